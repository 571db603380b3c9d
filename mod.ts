/**
 * MoRA on WebGPU: train LLaMA-style transformers with full fine-tuning, LoRA and its variants, and MoRA
 * (high-rank updating with a square matrix between compression and decompression), as WGSL kernels driven by
 * Deno's built-in WebGPU; load and save Hugging Face checkpoints and PEFT adapters; reproduce the paper's UUID
 * memorization experiment.
 *
 * @example Fine-tune the golden tiny LLaMA with MoRA through the one setup path, and merge it
 * ```ts
 * import { loadCheckpoint, mergeAndUnload, requestGpu, resolveMethod, setupMethod, Trainer } from "./mod.ts";
 *
 * const gpu = await requestGpu();
 * const base = await loadCheckpoint("testdata/golden/llama-tiny");
 * // The method's own defaults fill what the spec leaves out (here MoRA's variant for r = 4: rotation).
 * const method = resolveMethod({ method: "mora", rank: 4 }, { seed: 0, totalSteps: 10 });
 * const run = await setupMethod(gpu, base, method);
 * const trainer = await Trainer.create(run.model, {
 *   batch: 2, seqLen: 12, lr: 1e-3, schedule: { kind: "constant", warmupSteps: 0, totalSteps: 10 },
 *   adamw: { groups: run.groups },
 * });
 * run.attach(trainer);
 * const ids = new Uint32Array(24).map((_, i) => i % base.config.vocabSize);
 * console.log(await trainer.trainStep(ids, Int32Array.from(ids), true));
 * trainer.destroy();
 * await mergeAndUnload(run.model, run.adapters);
 * ```
 *
 * @module
 */

export { type Gpu, GpuUnavailableError, requestGpu } from "./lib/gpu/device.ts";
export { createTensor, readTensor, type Tensor, TensorTooLargeError, writeTensor } from "./lib/gpu/tensor.ts";
export { type LlamaConfig, parseLlamaConfig } from "./lib/model/config.ts";
export { llamaParameterShapes, loadCheckpoint, saveCheckpoint } from "./lib/model/checkpoint.ts";
export { initLlamaWeights } from "./lib/model/init.ts";
export { LlamaModel } from "./lib/model/llama.ts";
export { MODEL_PRESETS, modelPreset } from "./lib/model/presets.ts";
export { buildTrainPlan } from "./lib/model/train_plan.ts";
export { buildGreedyGenerator } from "./lib/model/generate.ts";
export { type LossRecord, Trainer, TrainingDivergedError } from "./lib/train/trainer.ts";
export { evaluate } from "./lib/train/evaluate.ts";
export { pretrain } from "./lib/train/pretrain.ts";
export { ADAPTER_METHODS, ALL_LINEAR_TARGETS, applyAdapters } from "./lib/adapters/registry.ts";
export type { AdapterConfig, AdapterLayer, AdapterMethod } from "./lib/adapters/types.ts";
export { mergeAndUnload, mergeIntoBase } from "./lib/adapters/merge.ts";
export { loadAdapters, saveAdapters } from "./lib/adapters/peft.ts";
export { installMergeRestarts } from "./lib/adapters/restarts.ts";
export { MORA_VARIANTS, moraRank, type MoraVariant } from "./lib/adapters/mora_variants.ts";
export { getTokenizer, type Tokenizer } from "./lib/data/tokenizer.ts";
export { loadCorpus, splitCorpus } from "./lib/data/corpus.ts";
export { llamaParity } from "./lib/parity/llama_parity.ts";
export { adapterParity } from "./lib/parity/adapter_parity.ts";
export {
  checkFits,
  type MethodRun,
  type MethodSpec,
  resolveMethod,
  type RunSettings,
  setupMethod,
} from "./lib/experiment/setup.ts";
export {
  learningStatus,
  type MatrixRecord,
  type MatrixRun,
  readJournal,
  runMatrix,
} from "./lib/experiment/matrix.ts";
export { chooseRate, finalTrainingLoss, SELECTION_RULE } from "./lib/experiment/lr_search.ts";
export { runUuidExperiment } from "./lib/uuid/experiment.ts";
export { UUID_PRESETS } from "./lib/uuid/presets.ts";

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

export {
  type AdapterDescription,
  type Gpu,
  type GpuLimits,
  GpuUnavailableError,
  requestGpu,
  type RequestGpuOptions,
} from "./lib/gpu/device.ts";
export type { MemoryCounter } from "./lib/gpu/memory.ts";
export type { ScratchPool } from "./lib/gpu/scratch.ts";
export type { Dispatch } from "./lib/gpu/kernel.ts";
export type { Environment } from "./lib/harness/env.ts";
export type { Shard, ShardContext } from "./lib/harness/shard.ts";
export {
  createTensor,
  readTensor,
  type Tensor,
  type TensorData,
  TensorTooLargeError,
  writeTensor,
} from "./lib/gpu/tensor.ts";
export { type LlamaConfig, parseLlamaConfig } from "./lib/model/config.ts";
export {
  llamaParameterShapes,
  loadCheckpoint,
  type LoadedCheckpoint,
  type ParameterShape,
  saveCheckpoint,
} from "./lib/model/checkpoint.ts";
export { initLlamaWeights } from "./lib/model/init.ts";
export { LlamaModel } from "./lib/model/llama.ts";
export type {
  DenseLinear,
  LinearBackwardArgs,
  LinearForwardArgs,
  LinearLayer,
  TrainableTensor,
} from "./lib/model/linear.ts";
export { MODEL_PRESETS, modelPreset } from "./lib/model/presets.ts";
export { buildTrainPlan, type TrainPlan, type TrainPlanOptions } from "./lib/model/train_plan.ts";
export { buildGreedyGenerator, type GeneratorShape, type GreedyGenerator } from "./lib/model/generate.ts";
export {
  type BatchShape,
  computeLogits,
  generateText,
  type GenerateTextOptions,
} from "./lib/model/inference.ts";
export { type AfterStepHook, type LossRecord, Trainer, TrainingDivergedError } from "./lib/train/trainer.ts";
export type { AdamW, AdamWConfig, GroupConfig, MomentState } from "./lib/train/optimizer.ts";
export type { GradientAccumulator } from "./lib/train/accumulate.ts";
export type { LearningRate, LearningRateState, ScheduleConfig, ScheduleKind } from "./lib/train/schedule.ts";
export { type EvalResult, evaluate } from "./lib/train/evaluate.ts";
export { pretrain, type PretrainOptions } from "./lib/train/pretrain.ts";
export { ADAPTER_METHODS, ALL_LINEAR_TARGETS, applyAdapters } from "./lib/adapters/registry.ts";
export type { AdapterConfig, AdapterLayer, AdapterMethod, MethodContext } from "./lib/adapters/types.ts";
export { mergeAndUnload, mergeIntoBase } from "./lib/adapters/merge.ts";
export { loadAdapters, saveAdapters } from "./lib/adapters/peft.ts";
export { installMergeRestarts, type MergeEvent, type MergeRestartOptions } from "./lib/adapters/restarts.ts";
export { MORA_VARIANTS, moraRank, type MoraVariant } from "./lib/ops/mora/variants.ts";
export { getTokenizer, type Tokenizer } from "./lib/data/tokenizer.ts";
export {
  type CorpusDocument,
  type CorpusSplit,
  loadCorpus,
  type LoadCorpusOptions,
  splitCorpus,
} from "./lib/data/corpus.ts";
export { llamaParity } from "./lib/parity/llama_parity.ts";
export type { ParityLine } from "./lib/parity/compare.ts";
export { adapterParity } from "./lib/parity/adapter_parity.ts";
export {
  checkFits,
  type MethodOptions,
  type MethodRun,
  type MethodSpec,
  type ResolvedMethod,
  resolveMethod,
  type RunSettings,
  setupMethod,
} from "./lib/experiment/setup.ts";
export {
  learningStatus,
  type MatrixRun,
  readJournal,
  runMatrix,
  type RunMatrixOptions,
} from "./lib/experiment/matrix.ts";
export { chooseRate, finalTrainingLoss, type GridPoint, SELECTION_RULE } from "./lib/experiment/lr_search.ts";
export { runUuidExperiment } from "./lib/uuid/experiment.ts";
export type {
  MatrixRecord,
  Provenance,
  RunStatus,
  UuidRunRecord,
  UuidRunRole,
  UuidRunSpec,
} from "./lib/records.ts";
export type { BaseModel, BaseSpec } from "./lib/uuid/base.ts";
export type { UuidScore } from "./lib/uuid/score.ts";
export { UUID_PRESETS, type UuidPreset } from "./lib/uuid/presets.ts";
export {
  finetune,
  type FinetuneRequest,
  type FinetuneResult,
  type FinetuneSettings,
  type FinetuneTarget,
} from "./lib/cli/finetune_run.ts";
export { loadTokenizerDir } from "./lib/data/hf_tokenizer.ts";

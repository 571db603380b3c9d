/**
 * One run of the pretraining experiment (paper §5.3): a random-initialized LLaMA, set up for a registered
 * method through the shared path (`lib/experiment/setup.ts`) with the embeddings, norms and LM head trainable
 * next to the adapters, trained on the corpus's training documents with a cosine schedule (ReLoRA/ReMoRA
 * merging and restarting through their own hooks), its step time and peak GPU memory measured in the same
 * run, then scored on held-out documents (perplexity and bits per byte) and its ΔW spectrum taken (Figure 5).
 * A run that diverges or does not learn is a record too, with its status. Learning-rate search runs skip the
 * validation and the spectrum: the search reads training loss only.
 *
 * @module
 */

import { trainBatches } from "../data/batches.ts";
import { getTokenizer } from "../data/tokenizer.ts";
import { checkRunSize, learningStatus } from "../experiment/matrix.ts";
import { type MethodRun, type ResolvedMethod, resolveMethod, setupMethod } from "../experiment/setup.ts";
import type { Gpu } from "../gpu/device.ts";
import { readTensor } from "../gpu/tensor.ts";
import { llamaParameterShapes } from "../model/checkpoint.ts";
import type { PretrainRunRecord, PretrainRunRole, PretrainRunSpec } from "../records.ts";
import { initLlamaWeights } from "../model/init.ts";
import { evaluate } from "../train/evaluate.ts";
import { Trainer, TrainingDivergedError } from "../train/trainer.ts";
import { evenWindows } from "../data/batches.ts";
import type { PretrainData } from "./data.ts";
import type { PretrainModel, PretrainPreset } from "./presets.ts";
import { type MatrixDelta, moduleSpectra } from "./spectrum.ts";

/** The unique key of a spec. */
export function runId(spec: PretrainRunSpec): string {
  const rank = spec.rank === null ? "full" : `r${spec.rank}`;
  const options = Object.entries(spec.options ?? {}).sort().map(([k, v]) => `${k}=${v}`).join(",");
  return [
    spec.preset,
    spec.model,
    spec.method,
    rank,
    spec.variant ?? "-",
    ...options ? [options] : [],
    `seed${spec.seed}`,
    `lr${spec.lr}`,
    `steps${spec.steps}xb${spec.batch}x${spec.seqLen}`,
  ].join("|");
}

/** The preset's model of a spec (throws naming the valid ones). */
export function modelOf(preset: PretrainPreset, name: string): PretrainModel {
  const model = preset.models.find((m) => m.name === name);
  if (!model) {
    throw new RangeError(
      `Unknown model "${name}" of preset ${preset.name}: expected ${
        preset.models.map((m) => m.name).join(", ")
      }`,
    );
  }
  return model;
}

/** The training size a preset gives its runs (part of each spec): sequences per update across micro-batches. */
export function pretrainRunSize(preset: PretrainPreset): Pick<PretrainRunSpec, "steps" | "batch" | "seqLen"> {
  return { steps: preset.steps, batch: preset.batch * preset.microBatches, seqLen: preset.seqLen };
}

/** The spec resolved against its method's defaults, with the unadapted tensors trainable. */
export function resolvePretrainRun(preset: PretrainPreset, spec: PretrainRunSpec): ResolvedMethod {
  return resolveMethod(spec, { seed: spec.seed, totalSteps: preset.steps, trainUnadapted: true });
}

/**
 * ΔW = W_final − W_init of every adapted (or, for FFT, trained) block projection, where W_final is the
 * weight the model computes with: its base weight (merges included) plus the live adapter's ΔW.
 */
export async function accumulatedDeltas(
  run: MethodRun,
  initial: ReadonlyMap<string, Float32Array>,
): Promise<MatrixDelta[]> {
  const out: MatrixDelta[] = [];
  for (const { name, shape } of llamaParameterShapes(run.model.config)) {
    if (!name.startsWith("model.layers.") || !name.endsWith("_proj.weight")) continue;
    const path = name.slice(0, -".weight".length);
    const final = await readTensor(run.model.weight(name));
    const live = await run.adapters.get(path)?.deltaWeight();
    const init = initial.get(name)!;
    const delta = new Float64Array(final.length);
    for (let i = 0; i < delta.length; i++) delta[i] = final[i]! + (live?.[i] ?? 0) - init[i]!;
    out.push({ path, rows: shape[0]!, cols: shape[1]!, delta });
  }
  return out;
}

/** Trains one run and, for a Table 3 run, scores it. */
export async function runPretrainExperiment(
  gpu: Gpu,
  preset: PretrainPreset,
  spec: PretrainRunSpec,
  data: PretrainData,
  options: { role: PretrainRunRole; log: (line: string) => void },
): Promise<Omit<PretrainRunRecord, "provenance">> {
  checkRunSize(runId(spec), spec, pretrainRunSize(preset), preset.name);
  const { config } = modelOf(preset, spec.model);
  const tokenizer = getTokenizer(preset.tokenizer);
  const resolved = resolvePretrainRun(preset, spec);
  const initial = initLlamaWeights(config, spec.seed);
  gpu.memory.resetPeak();
  const run = await setupMethod(gpu, { config, weights: initial }, resolved);
  const record: Omit<PretrainRunRecord, "provenance"> = {
    id: runId(spec),
    spec,
    role: options.role,
    status: "ok",
    trainableParams: run.trainableParams,
    losses: [],
    merges: [],
    ...resolved.adapter?.mergeEvery !== undefined ? { mergeEvery: resolved.adapter.mergeEvery } : {},
    msPerStep: 0,
    peakBytes: 0,
  };
  let trainer: Trainer | undefined;
  try {
    trainer = await Trainer.create(run.model, {
      batch: preset.batch,
      microBatches: preset.microBatches,
      seqLen: preset.seqLen,
      lr: spec.lr,
      schedule: { kind: "cosine", warmupSteps: preset.warmup, totalSteps: preset.steps },
      adamw: { weightDecay: preset.weightDecay, groups: run.groups },
      logEvery: Math.max(1, Math.round(preset.steps / preset.lossPoints)),
    });
    record.merges = run.attach(trainer);
    const batches = trainBatches(data.train, {
      batchSize: preset.batch * preset.microBatches,
      seqLen: preset.seqLen,
      seed: spec.seed,
    });
    const start = performance.now();
    for (let step = 1; step <= preset.steps; step++) {
      const { inputIds, labels } = batches.next().value;
      const loss = await trainer.trainStep(inputIds, labels, step === preset.steps);
      if (loss) record.losses.push({ step, loss: loss.loss });
    }
    await gpu.device.queue.onSubmittedWorkDone();
    const mergeMs = record.merges.reduce((a, m) => a + m.ms, 0);
    record.msPerStep = (performance.now() - start - mergeMs) / preset.steps;
    record.peakBytes = gpu.memory.peak;
    const status = learningStatus(record.losses, tokenizer.vocabSize);
    options.log(
      `  loss ${record.losses[0]?.loss.toFixed(3)} → ${record.losses.at(-1)?.loss.toFixed(3)}, ` +
        `${record.msPerStep.toFixed(0)} ms/step, ${record.merges.length} merges`,
    );
    if (options.role === "lr-search" || status.status !== "ok") return { ...record, ...status };
    record.validation = await evaluate(
      run.model,
      evenWindows(data.validation, preset.seqLen, preset.evalWindows),
      tokenizer,
      { batch: preset.batch, seqLen: preset.seqLen },
    );
    record.spectrum = moduleSpectra(await accumulatedDeltas(run, initial));
    options.log(
      `  validation: perplexity ${record.validation.perplexity.toFixed(3)}, ` +
        `${record.validation.bitsPerByte.toFixed(4)} bits/byte`,
    );
    return record;
  } catch (error) {
    if (!(error instanceof TrainingDivergedError)) throw error;
    return { ...record, status: "diverged", failure: error.message };
  } finally {
    trainer?.destroy();
    run.destroy();
  }
}

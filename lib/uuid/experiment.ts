/**
 * One run of the UUID memorization experiment: a registered method (full fine-tuning or an adapter) at a
 * rank, seed and learning rate, set up through the shared method path (`lib/experiment/setup.ts`), trained on
 * the pairs from the frozen base with the paper's linear schedule, its loss read back along the way and its
 * accuracy scored at the preset's evaluation steps. The result is one JSON record; a run that diverges or
 * does not learn is a record too, with its status.
 *
 * @module
 */

import { getTokenizer } from "../data/tokenizer.ts";
import { checkRunSize, learningStatus } from "../experiment/matrix.ts";
import { type ResolvedMethod, resolveMethod, setupMethod } from "../experiment/setup.ts";
import type { Gpu } from "../gpu/device.ts";
import type { UuidRunRecord, UuidRunRole, UuidRunSpec } from "../records.ts";
import { Trainer, TrainingDivergedError } from "../train/trainer.ts";
import type { BaseModel } from "./base.ts";
import { makeUuidPairs, tokenizePairs, uuidBatches, uuidSeqLen } from "./data.ts";
import { evalSteps, type UuidPreset } from "./presets.ts";
import { UuidScorer } from "./score.ts";

/** The unique key of a spec. */
export function runId(spec: UuidRunSpec): string {
  const rank = spec.rank === null ? "full" : `r${spec.rank}`;
  const options = Object.entries(spec.options ?? {}).sort().map(([k, v]) => `${k}=${v}`).join(",");
  return [
    spec.preset,
    spec.method,
    rank,
    spec.variant ?? "-",
    ...options ? [options] : [],
    `seed${spec.seed}`,
    `lr${spec.lr}`,
    `steps${spec.steps}xb${spec.batch}xp${spec.pairs}`,
    spec.base,
  ].join("|");
}

/** The training size a preset gives its runs (part of each spec). */
export function uuidRunSize(preset: UuidPreset): Pick<UuidRunSpec, "steps" | "batch" | "pairs"> {
  return { steps: preset.steps, batch: preset.batch, pairs: preset.pairs };
}

/** The spec resolved against its method's defaults for this preset (throws naming a bad spec). */
export function resolveUuidRun(preset: UuidPreset, spec: UuidRunSpec): ResolvedMethod {
  return resolveMethod(spec, { seed: spec.seed, dropout: preset.adapterDropout, totalSteps: preset.steps });
}

/** Trains and scores one run. */
export async function runUuidExperiment(
  gpu: Gpu,
  preset: UuidPreset,
  spec: UuidRunSpec,
  base: BaseModel,
  options: { role: UuidRunRole; log: (line: string) => void },
): Promise<Omit<UuidRunRecord, "provenance">> {
  checkRunSize(runId(spec), spec, uuidRunSize(preset), preset.name);
  const tokenizer = base.tokenizer ?? getTokenizer(preset.tokenizer);
  const pairs = makeUuidPairs(preset.pairs, spec.seed);
  const examples = tokenizePairs(pairs, tokenizer);
  const seqLen = uuidSeqLen(examples);
  if (preset.batch % preset.microBatches !== 0) {
    throw new RangeError(
      `Cannot split ${preset.batch} pairs into ${preset.microBatches} equal micro-batches`,
    );
  }
  const run = await setupMethod(gpu, base, resolveUuidRun(preset, spec));
  let trainer: Trainer | undefined;
  const scorer = new UuidScorer(run.model, tokenizer, pairs, examples, preset.evalBatch);
  const record: Omit<UuidRunRecord, "provenance"> = {
    id: runId(spec),
    spec,
    role: options.role,
    status: "ok",
    trainableParams: run.trainableParams,
    losses: [],
    evals: [],
    msPerStep: 0,
  };
  try {
    trainer = await Trainer.create(run.model, {
      batch: preset.batch / preset.microBatches,
      microBatches: preset.microBatches,
      seqLen,
      lr: spec.lr,
      schedule: { kind: "linear", warmupSteps: preset.warmup, totalSteps: preset.steps },
      adamw: { weightDecay: 0, groups: run.groups },
      logEvery: Math.max(1, Math.round(preset.steps / preset.lossPoints)),
    });
    run.attach(trainer);
    const batches = uuidBatches(examples, {
      batchSize: preset.batch,
      seqLen,
      seed: spec.seed,
      pad: tokenizer.eos,
    });
    const scoreAt = new Set(evalSteps(preset));
    let trainingMs = 0;
    for (let step = 1; step <= preset.steps; step++) {
      const { inputIds, labels } = batches.next().value;
      const start = performance.now();
      const loss = await trainer.trainStep(inputIds, labels, scoreAt.has(step));
      trainingMs += performance.now() - start;
      if (loss) record.losses.push({ step, loss: loss.loss });
      if (!scoreAt.has(step)) continue;
      const score = await scorer.score();
      record.evals.push({ step, ...score });
      options.log(
        `  step ${step}/${preset.steps}: loss ${loss!.loss.toFixed(3)}, char accuracy ` +
          `${(100 * score.charAccuracy).toFixed(1)}%, exact ${(100 * score.exactMatch).toFixed(1)}%`,
      );
    }
    record.msPerStep = trainingMs / preset.steps;
    return { ...record, ...learningStatus(record.losses, tokenizer.vocabSize) };
  } catch (error) {
    if (!(error instanceof TrainingDivergedError)) throw error;
    return { ...record, status: "diverged", failure: error.message };
  } finally {
    scorer.destroy();
    trainer?.destroy();
    run.destroy();
  }
}

/**
 * One run of the UUID memorization experiment: a method (full fine-tuning or an adapter) at a rank, seed and
 * learning rate, trained on the pairs from the frozen base with the paper's linear schedule, its loss read back
 * along the way and its accuracy scored at the preset's evaluation steps. The result is one JSON record.
 *
 * @module
 */

import { ADAPTER_METHODS, ALL_LINEAR_TARGETS, applyAdapters } from "../adapters/registry.ts";
import type { AdapterConfig, AdapterLayer } from "../adapters/types.ts";
import { getTokenizer } from "../data/tokenizer.ts";
import type { Gpu } from "../gpu/device.ts";
import { LlamaModel } from "../model/llama.ts";
import { Trainer } from "../train/trainer.ts";
import type { BaseModel } from "./base.ts";
import { makeUuidPairs, tokenizePairs, uuidBatches, uuidSeqLen } from "./data.ts";
import { evalSteps, type UuidPreset } from "./presets.ts";
import { type UuidScore, UuidScorer } from "./score.ts";

/** What identifies a run (its record's `id` is made of these). */
export interface UuidRunSpec {
  preset: string;
  /** `fft` or an adapter method. */
  method: string;
  /** Adapter rank (null for fft). */
  rank: number | null;
  /** MoRA variant. */
  variant?: string;
  seed: number;
  lr: number;
  /** Where the base came from (its directory). */
  base: string;
}

/** The record of a finished run. */
export interface UuidRunRecord {
  /** Unique key of the spec, used to resume an interrupted bench. */
  id: string;
  spec: UuidRunSpec;
  trainableParams: number;
  /** Loss at the steps it was read back. */
  losses: { step: number; loss: number }[];
  /** Scores at the evaluation steps. */
  evals: ({ step: number } & UuidScore)[];
  /** Mean wall time of a training step (scoring excluded), ms. */
  msPerStep: number;
}

/** The unique key of a spec. */
export function runId(spec: UuidRunSpec): string {
  const rank = spec.rank === null ? "full" : `r${spec.rank}`;
  return [spec.preset, spec.method, rank, spec.variant ?? "-", `seed${spec.seed}`, `lr${spec.lr}`, spec.base]
    .join("|");
}

/** The adapter config of a run (LoRA-family alpha = 2r as the paper's r=8/α=16; LoRA+ λ = 4). */
export function runAdapterConfig(spec: UuidRunSpec, dropout: number): AdapterConfig {
  return {
    dropout,
    method: spec.method,
    r: spec.rank!,
    alpha: 2 * spec.rank!,
    targetModules: ALL_LINEAR_TARGETS,
    seed: spec.seed,
    moraVariant: spec.variant,
    loraPlusRatio: spec.method === "lora+" ? 4 : undefined,
  };
}

/** Trains and scores one run. */
export async function runUuidExperiment(
  gpu: Gpu,
  preset: UuidPreset,
  spec: UuidRunSpec,
  base: BaseModel,
  log: (line: string) => void,
): Promise<UuidRunRecord> {
  const tokenizer = getTokenizer(preset.tokenizer);
  const pairs = makeUuidPairs(preset.pairs, spec.seed);
  const examples = tokenizePairs(pairs, tokenizer);
  const seqLen = uuidSeqLen(examples);
  const fft = spec.method === "fft";
  const model = LlamaModel.create(gpu, base.config, base.weights, { trainBase: fft });
  let adapters = new Map<string, AdapterLayer>();
  let trainer: Trainer | undefined;
  const scorer = new UuidScorer(model, tokenizer, pairs, examples, preset.evalBatch);
  try {
    const adapterConfig = fft ? undefined : runAdapterConfig(spec, preset.adapterDropout);
    if (adapterConfig) adapters = await applyAdapters(model, adapterConfig);
    const groups = adapterConfig && ADAPTER_METHODS[spec.method]?.groups?.(adapterConfig);
    if (preset.batch % preset.microBatches !== 0) {
      throw new RangeError(
        `Cannot split ${preset.batch} pairs into ${preset.microBatches} equal micro-batches`,
      );
    }
    trainer = await Trainer.create(model, {
      batch: preset.batch / preset.microBatches,
      microBatches: preset.microBatches,
      seqLen,
      lr: spec.lr,
      schedule: { kind: "linear", warmupSteps: preset.warmup, totalSteps: preset.steps },
      adamw: { weightDecay: 0, groups },
      logEvery: Math.max(1, Math.round(preset.steps / preset.lossPoints)),
    });
    const trainable = model.trainable().reduce((n, t) => n + t.value.size, 0);
    const batches = uuidBatches(examples, {
      batchSize: preset.batch,
      seqLen,
      seed: spec.seed,
      pad: tokenizer.eos,
    });
    const scoreAt = new Set(evalSteps(preset));
    const record: UuidRunRecord = {
      id: runId(spec),
      spec,
      trainableParams: trainable,
      losses: [],
      evals: [],
      msPerStep: 0,
    };
    let trainingMs = 0;
    for (let step = 1; step <= preset.steps; step++) {
      const { inputIds, labels } = batches.next().value;
      const start = performance.now();
      const loss = await trainer.trainStep(inputIds, labels, scoreAt.has(step));
      trainingMs += performance.now() - start;
      if (loss) record.losses.push({ step, loss: loss.loss });
      if (scoreAt.has(step)) {
        const score = await scorer.score();
        record.evals.push({ step, ...score });
        log(
          `  step ${step}/${preset.steps}: loss ${loss!.loss.toFixed(3)}, char accuracy ` +
            `${(100 * score.charAccuracy).toFixed(1)}%, exact ${(100 * score.exactMatch).toFixed(1)}%`,
        );
      }
    }
    record.msPerStep = trainingMs / preset.steps;
    return record;
  } finally {
    scorer.destroy();
    trainer?.destroy();
    for (const a of adapters.values()) a.destroy();
    model.destroy();
  }
}

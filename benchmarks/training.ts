/**
 * The training-step suite: ms per step, tokens/s, achieved GFLOP/s and peak GPU bytes of one full training
 * step (forward, backward, clip, AdamW in one command buffer) on the reference config, for full fine-tuning
 * and every adapter method at a small and a large rank, measured side by side in one run. MoRA's step time
 * is reported as a ratio to LoRA's at the same rank (paper Table 5).
 *
 * @module
 */

import { ALL_LINEAR_TARGETS, applyAdapters } from "../lib/adapters/registry.ts";
import type { AdapterConfig } from "../lib/adapters/types.ts";
import type { BenchContext, BenchSuite } from "../lib/harness/suite.ts";
import { measure } from "../lib/harness/timing.ts";
import { initLlamaWeights } from "../lib/model/init.ts";
import { LlamaModel } from "../lib/model/llama.ts";
import { modelPreset } from "../lib/model/presets.ts";
import { formatCell } from "../lib/report/model.ts";
import { type StepRecord, trainingSection } from "../lib/report/training_section.ts";
import { Trainer } from "../lib/train/trainer.ts";

/** The reference config and batch of the issue: ≈2 GFLOP per step. */
const BATCH = 8, SEQ = 64;

/** A method at a rank; MoRA uses rotation at the small rank and sharing at the large one, as the paper. */
interface StepCase {
  method: string;
  rank: number | null;
  variant?: string;
}

function cases(quick: boolean): StepCase[] {
  const ranks = quick ? [8] : [8, 32];
  const out: StepCase[] = [{ method: "fft", rank: null }];
  for (const [i, rank] of ranks.entries()) {
    for (const method of ["lora", "lora+", "asylora", "relora", "dora"]) out.push({ method, rank });
    out.push({ method: "mora", rank, variant: i === 0 ? "rotation" : "sharing" });
  }
  return out;
}

/** Model FLOPs of one step: 6·N per token for the linears (2 forward, 4 backward) plus causal attention. */
export function stepFlops(config: ReturnType<typeof modelPreset>, batch: number, seqLen: number): number {
  const perLayer = 4 * config.hiddenSize * config.numAttentionHeads * config.headDim +
    3 * config.hiddenSize * config.intermediateSize;
  const linear = config.numHiddenLayers * perLayer + config.vocabSize * config.hiddenSize;
  const attention = 12 * config.numHiddenLayers * config.numAttentionHeads * config.headDim * seqLen;
  return batch * seqLen * (6 * linear + attention);
}

function adapterConfig(c: StepCase): AdapterConfig {
  return {
    method: c.method,
    r: c.rank!,
    alpha: 2 * c.rank!,
    targetModules: ALL_LINEAR_TARGETS,
    seed: 0,
    loraPlusRatio: c.method === "lora+" ? 4 : undefined,
    mergeEvery: c.method === "relora" ? 1000 : undefined,
    moraVariant: c.variant,
  };
}

async function benchStep(ctx: BenchContext, c: StepCase): Promise<StepRecord> {
  const { gpu } = ctx;
  const config = modelPreset("reference");
  const baseline = gpu.memory.live;
  gpu.memory.resetPeak();
  const model = LlamaModel.create(gpu, config, initLlamaWeights(config, 0), {
    trainBase: c.method === "fft",
  });
  const adapters = c.method === "fft" ? new Map() : await applyAdapters(model, adapterConfig(c));
  const trainable = model.trainable().reduce((n, t) => n + t.value.size, 0);
  const trainer = await Trainer.create(model, {
    batch: BATCH,
    seqLen: SEQ,
    lr: 1e-4,
    schedule: { kind: "constant", warmupSteps: 0, totalSteps: 1 << 30 },
    logEvery: 1 << 30,
  });
  const ids = Uint32Array.from({ length: BATCH * SEQ }, (_, i) => (i * 7919) % config.vocabSize);
  const labels = Int32Array.from(ids);
  try {
    // A step lasts ~0.1–0.2 s here: trials of at least a second and five of them, so that methods a few
    // percent apart are told apart (the ratios to LoRA are the point of this suite).
    const timing = await measure(async (repetitions) => {
      for (let r = 0; r < repetitions; r++) await trainer.trainStep(ids, labels);
      await gpu.device.queue.onSubmittedWorkDone();
    }, ctx.quick ? ctx.timing : { ...ctx.timing, targetMs: 1000, trials: 5 });
    const flops = stepFlops(config, BATCH, SEQ);
    return {
      ...c,
      config: "reference",
      batch: BATCH,
      seqLen: SEQ,
      trainableParams: trainable,
      stepFlops: flops,
      peakBytes: gpu.memory.peak - baseline,
      timing,
    };
  } finally {
    trainer.destroy();
    for (const a of adapters.values()) a.destroy();
    model.destroy();
  }
}

function label(c: StepCase): string {
  return c.rank === null ? c.method : `${c.method} r=${c.rank}${c.variant ? ` (${c.variant})` : ""}`;
}

/** The training-step suite. */
export const trainingSuite: BenchSuite<StepRecord> = {
  name: "training",
  description: "training step time and peak GPU bytes per method on the reference config",
  async run(ctx) {
    const records: StepRecord[] = [];
    const all = cases(ctx.quick);
    for (const [i, c] of all.entries()) {
      ctx.progress(`[${i + 1}/${all.length}] training step ${label(c)}`);
      const record = await benchStep(ctx, c);
      ctx.progress(
        `  ${formatCell(record.timing.bestMs)} ms/step best, ${formatCell(record.timing.meanMs)} ms mean, ` +
          `peak ${(record.peakBytes / 2 ** 20).toFixed(2)} MiB`,
      );
      records.push(record);
    }
    return records;
  },
  section: (records, environment) => trainingSection(records, environment),
};

/**
 * The training-step suite: ms per step, tokens/s, achieved GFLOP/s and peak GPU bytes of one full training
 * step (forward, backward, clip, AdamW in one command buffer) on the reference config, for full fine-tuning
 * and every adapter method at a small and a large rank, measured side by side in one run. MoRA's step time
 * is reported as a ratio to LoRA's at the same rank (paper Table 5).
 *
 * @module
 */

import { ADAPTER_METHODS } from "../lib/adapters/registry.ts";
import { methodLabel, type MethodSpec, resolveMethod, setupMethod } from "../lib/experiment/setup.ts";
import type { BenchContext, BenchSuite } from "../lib/harness/suite.ts";
import { measure } from "../lib/harness/timing.ts";
import { initLlamaWeights } from "../lib/model/init.ts";
import { modelPreset } from "../lib/model/presets.ts";
import { formatCell } from "../lib/report/model.ts";
import { type StepRecord, trainingSection } from "../lib/report/training_section.ts";
import { Trainer } from "../lib/train/trainer.ts";

/** The reference config and batch of the issue: ≈2 GFLOP per step. */
const BATCH = 8, SEQ = 64;

/** A method's variant at the small and large rank (MoRA: rotation, Eq. 9, and sharing, Eq. 6, as §5.2). */
const VARIANTS: Record<string, [string, string]> = { mora: ["rotation", "sharing"] };

/**
 * ReLoRA and ReMoRA merge every this many steps while they are timed (the merges are timed apart); a quick run
 * times only a few steps, so it merges every 2.
 */
const MERGE_EVERY = { full: 10, quick: 2 };

/**
 * Every registered method under its own name: full fine-tuning once, each adapter at a small and a large rank
 * with its own defaults (LoRA+ with B's group; the methods with training hooks, ReLoRA and ReMoRA, merging
 * every few steps, {@link MERGE_EVERY});
 * MoRA uses rotation at the small rank and sharing at the large one, as the paper's §5.2.
 */
export function stepCases(quick: boolean): MethodSpec[] {
  const ranks = quick ? [8] : [8, 32];
  const out: MethodSpec[] = [];
  for (const method of Object.values(ADAPTER_METHODS)) {
    if (method.trainsBase) {
      out.push({ method: method.name, rank: null });
      continue;
    }
    for (const [i, rank] of ranks.entries()) {
      const variant = VARIANTS[method.name]?.[i];
      const every = quick ? MERGE_EVERY.quick : MERGE_EVERY.full;
      const options = method.attach ? { mergeEvery: every, restartWarmup: 1 } : undefined;
      out.push({ method: method.name, rank, ...variant ? { variant } : {}, ...options ? { options } : {} });
    }
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

async function benchStep(ctx: BenchContext, spec: MethodSpec): Promise<StepRecord> {
  const { gpu } = ctx;
  const config = modelPreset("reference");
  const baseline = gpu.memory.live;
  gpu.memory.resetPeak();
  const resolved = resolveMethod(spec, { seed: 0, totalSteps: 1 << 30 });
  const run = await setupMethod(gpu, { config, weights: initLlamaWeights(config, 0) }, resolved);
  const trainer = await Trainer.create(run.model, {
    batch: BATCH,
    seqLen: SEQ,
    lr: 1e-4,
    schedule: { kind: "constant", warmupSteps: 0, totalSteps: 1 << 30 },
    adamw: { groups: run.groups },
    logEvery: 1 << 30,
  });
  const merges = run.attach(trainer);
  const ids = Uint32Array.from({ length: BATCH * SEQ }, (_, i) => (i * 7919) % config.vocabSize);
  const labels = Int32Array.from(ids);
  try {
    // A step lasts ~0.1–0.2 s here: trials of at least a second and five of them, so that methods a few
    // percent apart are told apart (the ratios to LoRA are the point of this suite). Merges are left out of
    // the step time and reported on their own.
    const timing = await measure(async (repetitions) => {
      const before = merges.length;
      for (let r = 0; r < repetitions; r++) await trainer.trainStep(ids, labels);
      await gpu.device.queue.onSubmittedWorkDone();
      return merges.slice(before).reduce((ms, m) => ms + m.ms, 0);
    }, ctx.quick ? ctx.timing : { ...ctx.timing, targetMs: 1000, trials: 5 });
    const flops = stepFlops(config, BATCH, SEQ);
    return {
      method: spec.method,
      rank: spec.rank,
      ...spec.variant ? { variant: spec.variant } : {},
      trainsBase: resolved.method.trainsBase ?? false,
      config: "reference",
      batch: BATCH,
      seqLen: SEQ,
      trainableParams: run.trainableParams,
      stepFlops: flops,
      peakBytes: gpu.memory.peak - baseline,
      timing,
      ...merges.length > 0
        ? {
          merges: {
            every: resolved.adapter!.mergeEvery!,
            count: merges.length,
            meanMs: mean(merges.map((m) => m.ms)),
          },
        }
        : {},
    };
  } finally {
    trainer.destroy();
    run.destroy();
  }
}

function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

/** The training-step suite. */
export const trainingSuite: BenchSuite<StepRecord> = {
  name: "training",
  description: "training step time and peak GPU bytes per method on the reference config",
  async run(ctx) {
    const records: StepRecord[] = [];
    const all = stepCases(ctx.quick);
    for (const [i, c] of all.entries()) {
      ctx.progress(`[${i + 1}/${all.length}] training step ${methodLabel(c)}`);
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

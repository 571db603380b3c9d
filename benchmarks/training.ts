/**
 * The training-step suite (paper Table 5): ms per step, tokens/s, achieved GFLOP/s and peak GPU bytes of one
 * full training step (forward, backward, clip, AdamW in one command buffer), for full fine-tuning and every
 * adapter method at a small and a large rank.
 *
 * Every method of a configuration is set up first (its peak bytes measured alone, while it builds and takes
 * its first step), then all of them are timed in interleaved rounds (`measureInterleaved`: A B C …, B C A …),
 * so that drift of the machine hits them alike and round i of one method pairs with round i of another; the
 * report gives medians, interquartile ranges and paired ratios with their spread.
 *
 * Configurations: the reference config (every method, ranks 8 and 32), a medium one where the weight
 * gradients that adapters skip dominate (full fine-tuning, LoRA and MoRA), and with `--preset paper --base DIR`
 * the paper's setting instead (the base's shape, sequence 1024, every linear layer, LoRA and MoRA at ranks 8
 * and 256), for a GPU.
 *
 * On the medium config the optional PyTorch-CPU peer (`benchmarks/torch_peer.py`, the same step in PyTorch)
 * joins the same interleaved rounds when `python3` imports torch; its records are marked `framework:
 * "pytorch-cpu"`, and when it is absent our records of that config say why (`peerSkipped`).
 *
 * @module
 */

import { ADAPTER_METHODS } from "../lib/adapters/registry.ts";
import { methodLabel, type MethodSpec, resolveMethod, setupMethod } from "../lib/experiment/setup.ts";
import type { BenchContext, BenchSuite } from "../lib/harness/suite.ts";
import { measureInterleaved, type RepeatedWork, type Timing } from "../lib/harness/timing.ts";
import { loadCheckpoint, loadCheckpointConfig } from "../lib/model/checkpoint.ts";
import type { LlamaConfig } from "../lib/model/config.ts";
import { initLlamaWeights } from "../lib/model/init.ts";
import { modelPreset } from "../lib/model/presets.ts";
import { formatCell } from "../lib/report/model.ts";
import type { StepRecord } from "../lib/records.ts";
import { trainingSection } from "../lib/report/training_section.ts";
import { Trainer } from "../lib/train/trainer.ts";
import {
  type PeerCase,
  startTorchPeer,
  TORCH_PEER_COMMAND,
  type TorchPeer,
  type TorchPeerStart,
} from "./torch_peer.ts";

/** A method's variant at the small and large rank (MoRA: rotation, Eq. 9, and sharing, Eq. 6, as §5.2). */
const VARIANTS: Record<string, [string, string]> = { mora: ["rotation", "sharing"] };

/**
 * ReLoRA and ReMoRA merge every this many steps while they are timed (the merges are timed apart); a quick run
 * times only a few steps, so it merges every 2.
 */
const MERGE_EVERY = { full: 10, quick: 2 };

/** The learning rate of every timed step (constant; ours and the peer's). */
const STEP_LR = 1e-4;

/** One configuration of the suite: a model, a batch shape, the methods and how long to time them. */
export interface StepConfig {
  /** Name in the records and the report. */
  name: string;
  /** The model's shape and its weights (random for the bench's own configs). */
  load(): Promise<{ config: LlamaConfig; weights: Map<string, Float32Array> }>;
  batch: number;
  seqLen: number;
  cases: MethodSpec[];
  /** Interleaved rounds, the shortest trial (ms) and the fewest timed steps per method. */
  rounds: number;
  targetMs: number;
  minSteps: number;
  /**
   * The command of a PyTorch-CPU peer to time alongside in the same rounds ({@link startTorchPeer}), when it
   * starts; undefined: none.
   */
  peer?: readonly string[];
}

/** Options of {@link makeTrainingSuite}: the bench's preset and base. */
export interface TrainingBenchOptions {
  /** `paper` times the paper's setting on `base` instead of the bench's own configs. */
  preset?: string;
  /** A Hugging Face LLaMA directory (the paper preset's model). */
  base?: string;
}

/**
 * Every registered method under its own name, or those of `only`: full fine-tuning once, each adapter at each
 * rank with its own defaults (LoRA+ with B's group; ReLoRA and ReMoRA merging every few steps,
 * {@link MERGE_EVERY}); MoRA uses rotation at the small rank and sharing at the large one, as the paper's §5.2.
 */
export function stepCases(ranks: readonly number[], quick: boolean, only?: readonly string[]): MethodSpec[] {
  const out: MethodSpec[] = [];
  for (const method of Object.values(ADAPTER_METHODS)) {
    if (only && !only.includes(method.name)) continue;
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

const randomModel = (preset: string) => () => {
  const config = modelPreset(preset);
  return Promise.resolve({ config, weights: initLlamaWeights(config, 0) });
};

/** The configurations a bench with these options times. */
export function stepConfigs(options: TrainingBenchOptions, quick: boolean): StepConfig[] {
  if (options.preset === "paper") {
    const base = options.base!;
    return [{
      name: "paper",
      load: () => loadCheckpoint(base),
      batch: 1,
      seqLen: 1024,
      cases: stepCases([8, 256], false, ["lora", "mora"]),
      rounds: 5,
      targetMs: 0,
      minSteps: 15,
    }];
  }
  const reference: StepConfig = {
    name: "reference",
    load: randomModel("reference"),
    batch: 8,
    seqLen: 64,
    cases: stepCases(quick ? [8] : [8, 32], quick),
    rounds: quick ? 3 : 8,
    targetMs: quick ? 0 : 300,
    minSteps: quick ? 3 : 15,
  };
  if (quick) return [reference];
  // Hidden 512 and 4 layers: the weight gradients and the optimizer over 13M weights, which adapters skip,
  // dominate the full fine-tuning step. 256 tokens per step keep the config within a few minutes
  // (≈20 GFLOP for a full fine-tuning step; a few seconds on 2 cores).
  return [reference, {
    name: "medium",
    load: randomModel("medium"),
    batch: 2,
    seqLen: 128,
    cases: stepCases([8, 32], false, ["fft", "lora", "mora"]),
    rounds: 5,
    targetMs: 0,
    minSteps: 15,
    peer: TORCH_PEER_COMMAND,
  }];
}

/** Model FLOPs of one step: 6·N per token for the linears (2 forward, 4 backward) plus causal attention. */
export function stepFlops(config: LlamaConfig, batch: number, seqLen: number): number {
  const perLayer = 4 * config.hiddenSize * config.numAttentionHeads * config.headDim +
    3 * config.hiddenSize * config.intermediateSize;
  const linear = config.numHiddenLayers * perLayer + config.vocabSize * config.hiddenSize;
  const attention = 12 * config.numHiddenLayers * config.numAttentionHeads * config.headDim * seqLen;
  return batch * seqLen * (6 * linear + attention);
}

/** One method set up and stepped once: its step as repeatable work, and what its record needs. */
interface PreparedStep {
  spec: MethodSpec;
  work: RepeatedWork;
  record: Omit<StepRecord, "timing" | "merges">;
  /** The case as the peer builds it: method, rank, and the resolved variant and LoRA alpha. */
  peerCase: PeerCase;
  mergeEvery?: number;
  merges: { ms: number }[];
  destroy(): void;
}

async function prepareStep(
  ctx: BenchContext,
  cfg: StepConfig,
  base: { config: LlamaConfig; weights: Map<string, Float32Array> },
  spec: MethodSpec,
): Promise<PreparedStep> {
  const { gpu } = ctx;
  const baseline = gpu.memory.live;
  gpu.memory.resetPeak();
  const resolved = resolveMethod(spec, { seed: 0, totalSteps: 1 << 30 });
  const run = await setupMethod(gpu, base, resolved);
  const trainer = await Trainer.create(run.model, {
    batch: cfg.batch,
    seqLen: cfg.seqLen,
    lr: STEP_LR,
    schedule: { kind: "constant", warmupSteps: 0, totalSteps: 1 << 30 },
    adamw: { groups: run.groups },
    logEvery: 1 << 30,
  });
  const merges = run.attach(trainer);
  const tokens = cfg.batch * cfg.seqLen;
  const ids = Uint32Array.from({ length: tokens }, (_, i) => (i * 7919) % base.config.vocabSize);
  const labels = Int32Array.from(ids);
  await trainer.trainStep(ids, labels, true);
  const peakBytes = gpu.memory.peak - baseline;
  // Merges are left out of the step time and reported on their own.
  const work: RepeatedWork = async (repetitions) => {
    const before = merges.length;
    for (let r = 0; r < repetitions; r++) await trainer.trainStep(ids, labels);
    await gpu.device.queue.onSubmittedWorkDone();
    return merges.slice(before).reduce((ms, m) => ms + m.ms, 0);
  };
  return {
    spec,
    work,
    peerCase: {
      method: spec.method,
      rank: spec.rank,
      ...resolved.adapter?.moraVariant ? { variant: resolved.adapter.moraVariant } : {},
      ...resolved.adapter ? { alpha: resolved.adapter.alpha } : {},
    },
    merges,
    mergeEvery: resolved.adapter?.mergeEvery,
    record: {
      method: spec.method,
      rank: spec.rank,
      ...spec.variant ? { variant: spec.variant } : {},
      trainsBase: resolved.method.trainsBase ?? false,
      config: cfg.name,
      batch: cfg.batch,
      seqLen: cfg.seqLen,
      trainableParams: run.trainableParams,
      stepFlops: stepFlops(base.config, cfg.batch, cfg.seqLen),
      peakBytes,
    },
    destroy() {
      trainer.destroy();
      run.destroy();
    },
  };
}

/** Starts the config's peer with the prepared cases, or undefined when the config has none. */
async function startPeer(
  ctx: BenchContext,
  cfg: StepConfig,
  config: LlamaConfig,
  prepared: readonly PreparedStep[],
): Promise<TorchPeerStart | undefined> {
  if (!cfg.peer) return undefined;
  ctx.progress(`[${cfg.name}] setting up the PyTorch-CPU peer (${cfg.peer[0]})`);
  const start = await startTorchPeer({
    model: config,
    batch: cfg.batch,
    seqLen: cfg.seqLen,
    lr: STEP_LR,
    threads: navigator.hardwareConcurrency,
    cases: prepared.map((p) => p.peerCase),
  }, { command: cfg.peer });
  ctx.progress(
    "peer" in start ? `  PyTorch peer: ${start.peer.build}` : `  PyTorch peer skipped: ${start.skipped}`,
  );
  return start;
}

/** The peer's records, one per prepared case: ours with the peer's timing, trainable count and build. */
function peerRecords(
  ctx: BenchContext,
  prepared: readonly PreparedStep[],
  peer: TorchPeer,
  timings: Timing[],
) {
  return prepared.map((p, i): StepRecord => {
    const trainableParams = peer.trainableParams[i]!;
    const differs = trainableParams === p.record.trainableParams ? "" : ` (ours ${p.record.trainableParams})`;
    ctx.progress(
      `  PyTorch ${methodLabel(p.spec)}: ${formatCell(timings[i]!.bestMs)} ms/step best, ` +
        `${trainableParams} trainable${differs}`,
    );
    return {
      ...p.record,
      trainableParams,
      peakBytes: 0,
      timing: timings[i]!,
      framework: "pytorch-cpu",
      frameworkBuild: peer.build,
    };
  });
}

/**
 * Sets up every method of `cfg` (and its peer, when it has one and it starts), times them all in interleaved
 * rounds and returns their records: ours, then the peer's.
 */
export async function benchConfig(ctx: BenchContext, cfg: StepConfig): Promise<StepRecord[]> {
  const base = await cfg.load();
  const prepared: PreparedStep[] = [];
  let peer: TorchPeer | undefined;
  try {
    for (const [i, spec] of cfg.cases.entries()) {
      ctx.progress(`[${cfg.name} ${i + 1}/${cfg.cases.length}] setting up ${methodLabel(spec)}`);
      prepared.push(await prepareStep(ctx, cfg, base, spec));
    }
    const start = await startPeer(ctx, cfg, base.config, prepared);
    peer = start && "peer" in start ? start.peer : undefined;
    const works = [...prepared.map((p) => p.work), ...peer?.works ?? []];
    ctx.progress(`[${cfg.name}] timing ${works.length} works in ${cfg.rounds} interleaved rounds`);
    const timings = await measureInterleaved(works, {
      rounds: cfg.rounds,
      targetMs: cfg.targetMs,
      minRepetitions: cfg.minSteps,
    });
    const peerSkipped = start && "skipped" in start ? start.skipped : peer?.failure();
    const theirs = peer && !peerSkipped
      ? peerRecords(ctx, prepared, peer, timings.slice(prepared.length))
      : [];
    const ours = prepared.map((p, i): StepRecord => {
      const timing = timings[i]!;
      ctx.progress(
        `  ${methodLabel(p.spec)}: ${formatCell(timing.bestMs)} ms/step best, ` +
          `peak ${(p.record.peakBytes / 2 ** 20).toFixed(2)} MiB`,
      );
      const merges = p.merges.length > 0
        ? { every: p.mergeEvery!, count: p.merges.length, meanMs: mean(p.merges.map((m) => m.ms)) }
        : undefined;
      return { ...p.record, timing, ...merges ? { merges } : {}, ...peerSkipped ? { peerSkipped } : {} };
    });
    return [...ours, ...theirs];
  } finally {
    await peer?.close();
    for (const p of prepared) p.destroy();
  }
}

function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

/** The training-step suite for the bench's options. */
export function makeTrainingSuite(options: TrainingBenchOptions = {}): BenchSuite<StepRecord> {
  return {
    name: "training",
    description:
      "training step time and peak GPU bytes per method, interleaved, on the reference and medium " +
      "configs (or the paper's setting)",
    async validate() {
      if (options.preset !== "paper") return;
      if (!options.base) {
        throw new RangeError(
          "Cannot time the paper's training step without a model: pass --base DIR (a Hugging Face LLaMA)",
        );
      }
      await loadCheckpointConfig(options.base);
    },
    async run(ctx) {
      const records: StepRecord[] = [];
      for (const cfg of stepConfigs(options, ctx.quick)) records.push(...await benchConfig(ctx, cfg));
      return records;
    },
    section: (records, environment) => trainingSection(records, environment),
  };
}

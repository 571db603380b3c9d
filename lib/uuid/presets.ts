/**
 * Presets of the UUID memorization experiment (paper §5.1, Table 1, Figures 2–3).
 *
 * `paper`: 10K pairs, 1,000 pairs per batch, 100 epochs (1,000 steps), ranks 8 and 256, LoRA sweep 8…256, the
 * paper's learning-rate grids (LoRA {1e-4, 2e-4, 3e-4} §3, MoRA {5e-5, 7e-5, 1e-4} §5.1, FFT 3e-5), linear
 * schedule with 100 warmup steps — on a GPU with a real LLaMA (`--base DIR`).
 *
 * `smoke` (what `deno task bench --quick` runs): the quick pipeline shrunk to about two minutes, one rate
 * per method and one seed, to check that everything runs; its numbers are not a result.
 *
 * `quick`: the same experiment sized for 2 CPU cores and a software adapter. The base is the `reference` LLaMA
 * (hidden 128, 2 layers, byte vocabulary) pretrained for 400 steps on the corpus, whose stream also holds 100,000
 * unrelated UUID pairs (≈18% of its tokens, never the task's pairs): the paper's LLaMA-2 had seen UUID-shaped
 * text before the task, and a base that has not spends an adapter's capacity on the format first, so that
 * "LoRA fails" would partly be an artifact of the base. Ranks map the paper's by trainable fraction: on
 * LLaMA-2-7B, r = 8 trains 0.3% of the weights and r = 256 trains 9.5%; on this model r = 1 trains 1% of the
 * block weights (the smallest possible) and r = 8 trains 8%, so 1 and 8 stand for 8 and 256, and the LoRA sweep
 * 1, 4, 8 covers the same span of trainable fractions as the paper's 8…256 (with 3 points for its 6).
 *
 * Budget: 16 pairs, all 16 per step, 128 epochs (128 steps). Calibrated on FFT and LoRA only, one seed, before
 * any MoRA run: on the older base without UUID text (16 pairs × 160 epochs, 8 per batch), LoRA stayed at 5–16%
 * character accuracy at every rank and rate (below the 19.8% format-only baseline) while FFT memorized. On this
 * base, at 128 steps: FFT reaches 100% at 70% of the budget (3e-3; 44% at 1e-3), LoRA r = 1 ends at 25%
 * (training loss 2.04, below the format-only 2.32) and LoRA r = 8 at 42% (loss 1.14) at 1e-2, so the rank trend
 * shows and the baselines are neither at the floor nor at the ceiling. Every rate in the tables comes from the
 * search over `lrGrid` (`benchmarks/uuid.ts`); nothing was tuned on MoRA.
 *
 * @module
 */

import type { BaseSpec } from "./base.ts";

/** One preset: data, budget, methods and ranks. */
export interface UuidPreset {
  /** The preset's name (`--preset NAME`). */
  name: string;
  /** Pairs to memorize. */
  pairs: number;
  /** Pairs per step. */
  batch: number;
  /** Micro-batches per step (gradient accumulation; the authors used micro-batches of 128); divides `batch`. */
  microBatches: number;
  /** Optimizer steps (= epochs · pairs / batch). */
  steps: number;
  /** Linear-schedule warmup steps. */
  warmup: number;
  /** The paper's evaluation points as fractions of the budget (300/500/700/900 of 1000), plus the end. */
  evalFractions: number[];
  /** Loss is read back this many times over the run (the loss curve's resolution). */
  lossPoints: number;
  /** The small and large rank (the paper's 8 and 256). */
  ranks: [number, number];
  /** Ranks of the LoRA sweep (Figure 2). */
  sweepRanks: number[];
  /** Learning-rate grid of the search, by method name, with `default` for the methods not named. */
  lrGrid: Record<string, number[]>;
  /** The seed of the learning-rate search runs; no reported run uses it. */
  searchSeed: number;
  /** Seeds of the reported runs (`--seeds` overrides). */
  seeds: number[];
  /**
   * A method's variant at the small and large rank, by method name (MoRA: rotation, Eq. 9, at the paper's
   * r = 8, sharing, Eq. 6, at its r = 256, as the paper's §5.2); methods not named use their default.
   */
  variants: Record<string, [string, string]>;
  /** Input dropout of every adapter method (PEFT `lora_dropout`; the authors' default 0.05). */
  adapterDropout: number;
  /** Tokenizer of the training text. */
  tokenizer: string;
  /** Base model when `--base` is not given; undefined means `--base` is required. */
  base?: BaseSpec;
  /** Sequences per generation batch when scoring. */
  evalBatch: number;
}

/** The quick preset's base: the reference LLaMA pretrained on the corpus plus unrelated UUID pairs. */
const QUICK_BASE: BaseSpec = {
  kind: "pretrained",
  preset: "reference",
  tokenizer: "byte",
  steps: 400,
  batch: 8,
  seqLen: 128,
  lr: 2e-3,
  seed: 0,
  uuidDocuments: { pairs: 100_000, perDocument: 20 },
};

/** Every UUID preset by its name (`--preset`). */
export const UUID_PRESETS: Readonly<Record<string, UuidPreset>> = {
  quick: {
    name: "quick",
    pairs: 16,
    batch: 16,
    microBatches: 1,
    steps: 128,
    warmup: 13,
    evalFractions: [0.3, 0.5, 0.7, 0.9, 1],
    lossPoints: 32,
    ranks: [1, 8],
    // Rank 2 left out to keep the suite within 15 minutes (a run costs ~45 s here; 18 runs with 3 seeds).
    sweepRanks: [1, 4, 8],
    // Adapters' grid reaches 1e-1: the first search chose 3e-2, its top, for both rank-1 groups.
    lrGrid: { fft: [3e-4, 1e-3, 3e-3, 1e-2], default: [1e-3, 3e-3, 1e-2, 3e-2, 1e-1] },
    searchSeed: 100,
    seeds: [0, 1, 2],
    variants: { mora: ["rotation", "sharing"] },
    adapterDropout: 0.05,
    tokenizer: "byte",
    base: QUICK_BASE,
    evalBatch: 16,
  },
  // `deno task bench --quick`: the same pipeline in about two minutes, to see that it works; not a result.
  smoke: {
    name: "smoke",
    pairs: 8,
    batch: 8,
    microBatches: 1,
    steps: 32,
    warmup: 3,
    evalFractions: [0.3, 0.5, 0.7, 0.9, 1],
    lossPoints: 8,
    ranks: [1, 8],
    sweepRanks: [1, 8],
    lrGrid: { fft: [3e-3], default: [1e-2] },
    searchSeed: 100,
    seeds: [0],
    variants: { mora: ["rotation", "sharing"] },
    adapterDropout: 0.05,
    tokenizer: "byte",
    base: { ...QUICK_BASE, steps: 100, uuidDocuments: { pairs: 20_000, perDocument: 20 } },
    evalBatch: 8,
  },
  paper: {
    name: "paper",
    pairs: 10_000,
    batch: 1_000,
    microBatches: 8,
    steps: 1_000,
    warmup: 100,
    evalFractions: [0.3, 0.5, 0.7, 0.9, 1],
    lossPoints: 100,
    ranks: [8, 256],
    sweepRanks: [8, 16, 32, 64, 128, 256],
    // The paper's grids: LoRA §3, MoRA §5.1; FFT's single rate 3e-5.
    lrGrid: { fft: [3e-5], mora: [5e-5, 7e-5, 1e-4], default: [1e-4, 2e-4, 3e-4] },
    searchSeed: 100,
    seeds: [0],
    adapterDropout: 0.05,
    variants: { mora: ["rotation", "sharing"] },
    tokenizer: "llama-bytes",
    evalBatch: 500,
  },
};

/** A preset by name, with a clear error listing the valid names. */
export function uuidPreset(name: string): UuidPreset {
  const preset = UUID_PRESETS[name];
  if (!preset) {
    throw new RangeError(
      `Unknown UUID preset "${name}": expected one of ${Object.keys(UUID_PRESETS).join(", ")}`,
    );
  }
  return preset;
}

/** The steps at which a run is scored. */
export function evalSteps(preset: Pick<UuidPreset, "steps" | "evalFractions">): number[] {
  return [...new Set(preset.evalFractions.map((f) => Math.max(1, Math.round(f * preset.steps))))].sort((
    a,
    b,
  ) => a - b);
}

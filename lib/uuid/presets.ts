/**
 * Presets of the UUID memorization experiment (paper §5.1, Table 1, Figures 2–3).
 *
 * `paper`: 10K pairs, 1,000 pairs per batch, 100 epochs (1,000 steps), ranks 8 and 256, LoRA sweep
 * 8…256, learning rates of the paper's appendix (FFT 3e-5; LoRA and MoRA 3e-4 from the authors' UUID script;
 * spec MoRA §7, baselines §9), linear schedule with 100 warmup steps — on a GPU with a real LLaMA (`--base DIR`).
 *
 * `quick`: the same experiment sized for 2 CPU cores and a software adapter (≈10 minutes). The base is the
 * `reference` LLaMA (hidden 128, 2 layers, byte vocabulary) pretrained for 200 steps on the corpus. Ranks map the
 * paper's by trainable fraction: on LLaMA-2-7B, r = 8 trains 0.3% of the weights and r = 256 trains 9.5%; on this
 * model r = 1 trains 1% of the block weights (the smallest possible) and r = 8 trains 8%, so 1 and 8 stand for 8 and
 * 256, and the LoRA sweep doubles from 1 to 32 as the paper's doubles from 8 to 256.
 * Budget: 16 pairs, 8 per batch, 160 epochs (320 steps). Calibrated on full fine-tuning only: with 64 pairs × 40
 * epochs or 16 pairs × 100 epochs FFT stayed below 55% character accuracy; at 160 epochs it reaches 100% at 70% of
 * the budget (the paper's FFT reaches 100% at 50%). FFT's rate is 3e-3 (1e-2 did about as well at 100 epochs: 54% against 52%); the
 * adapter rate (1e-2, the same for every adapter method) is the best for LoRA r = 8 of 3e-3, 1e-2 and 3e-2 (3e-2 does
 * not train). Nothing was tuned on MoRA.
 *
 * @module
 */

import type { BaseSpec } from "./base.ts";

/** One preset: data, budget, methods and ranks. */
export interface UuidPreset {
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

/** Every preset. */
export const UUID_PRESETS: Readonly<Record<string, UuidPreset>> = {
  quick: {
    name: "quick",
    pairs: 16,
    batch: 8,
    microBatches: 1,
    steps: 320,
    warmup: 32,
    evalFractions: [0.3, 0.5, 0.7, 0.9, 1],
    lossPoints: 40,
    ranks: [1, 8],
    sweepRanks: [1, 2, 4, 8, 16, 32],
    lrGrid: { fft: [3e-4, 1e-3, 3e-3, 1e-2], default: [1e-3, 3e-3, 1e-2, 3e-2] },
    searchSeed: 100,
    seeds: [0, 1, 2],
    variants: { mora: ["rotation", "sharing"] },
    adapterDropout: 0.05,
    tokenizer: "byte",
    base: {
      kind: "pretrained",
      preset: "reference",
      tokenizer: "byte",
      steps: 200,
      batch: 8,
      seqLen: 128,
      lr: 2e-3,
      seed: 0,
    },
    evalBatch: 16,
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

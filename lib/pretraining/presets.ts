/**
 * Presets of the pretraining-from-scratch experiment (paper §5.3, Table 3, Figures 4–5): a random-initialized
 * LLaMA (RMSNorm, SwiGLU, RoPE) trained on the bundled corpus with adapters on every block projection and the
 * embeddings, norms and LM head trainable next to them; no full-rank warmup.
 *
 * **Rank by trainable fraction.** The paper's r = 128 on its 250M model (hidden 768, intermediate 2560,
 * 24 layers) gives LoRA 128 · (4 · 1536 + 3 · 3328) = 2.06M values per layer against 8.26M block-projection
 * weights: 25.0% ({@link adapterFraction}). A preset's rank is the one whose fraction on its own model is
 * nearest to that ({@link rankForFraction}): r = 22 on the quick model (24.7%). MoRA and ReMoRA get the same
 * r and train r̂² ≈ (in + out) · r values per matrix (Eq. 6 sharing; r̂ = 75 and 119 here), so every
 * adapter method trains the same number of values to within rounding.
 *
 * **`quick`** (2 CPU cores, the software adapter): the `reference` LLaMA (hidden 128, intermediate 512,
 * 2 layers, 4 heads, byte vocabulary) for 240 updates of 8 × 64 tokens (cosine, 24 warmup updates, no weight
 * decay: the MoRA code's 0), ReLoRA/ReMoRA merging every 48 updates (the paper's 2K of 10K: four merges, five
 * cycles) with a 2-update restart warmup (the paper's 50 of a 2,000-update cycle is 2.5%, 1.2 updates here,
 * rounded up so the re-warmup outlasts the stale first update after a merge). It is an analog: ~123K tokens
 * on a 0.5M-weight model, against the paper's 5.2B tokens on 250M; losses are far from converged, and what
 * it can show is the ordering of methods at equal trainable parameters early in training, not the paper's
 * perplexities. Calibrated on FFT and LoRA only (seed 0, rate 3e-3, before any MoRA run): at 240 updates FFT
 * reaches a held-out perplexity of 10.9 (3.44 bits per byte) and LoRA 12.0 (3.58), from 256 (8 bits) at
 * initialization, with the loss still falling: both learn, neither is at a floor, and the gap between them
 * is visible. An update costs 250–320 ms with other processes sharing the 2 cores (less alone), so the five
 * methods × three seeds fit in about 15 minutes with the committed search.
 *
 * **`smoke`** (`deno task bench --quick`): the same pipeline in seconds, one rate per method, one seed; not
 * a result.
 *
 * **`paper`**: the paper's 250M and 1.3B shapes (1.3B: ReLoRA's `llama_1b`, hidden 2048, intermediate 5461,
 * 24 layers, 32 heads), 10K updates of 1024 sequences × 512 tokens (64 micro-batches of 16), merge every 2K,
 * 50-update restart warmup, warmup 1000 and cosine as the MoRA README, r = 128. The vocabulary is GPT-2's
 * (50,257; the paper's T5 tokenizer is not bundled), and the data is the bundled corpus (≈8M GPT-2 tokens),
 * which 5.2B training tokens repeat about 650 times: the paper's shape and budget, not its data.
 *
 * @module
 */

import type { MethodOptions } from "../experiment/setup.ts";
import type { LlamaConfig } from "../model/config.ts";
import { modelPreset } from "../model/presets.ts";

/** A model a preset trains: its name (in run ids and tables) and shape. */
export interface PretrainModel {
  /** What runs and tables call it, e.g. `reference` or `250M`. */
  name: string;
  /** Its shape. */
  config: LlamaConfig;
}

/** A pretraining preset: models, data shape, budget, methods, rates. */
export interface PretrainPreset {
  /** Its key in {@link PRETRAIN_PRESETS}, the name {@link pretrainPreset} takes. */
  name: string;
  /** Models trained (Table 3's columns). */
  models: PretrainModel[];
  /** Tokenizer of the corpus (`lib/data/tokenizer.ts`). */
  tokenizer: string;
  /** Sequences per micro-batch. */
  batch: number;
  /** Micro-batches per optimizer update (their gradients are accumulated). */
  microBatches: number;
  /** Tokens per sequence. */
  seqLen: number;
  /** Optimizer updates. */
  steps: number;
  /** Warmup updates, after which the cosine schedule begins. */
  warmup: number;
  /** AdamW weight decay. */
  weightDecay: number;
  /** Adapter rank r of every adapter method (MoRA's r̂ derives from it). */
  rank: number;
  /** Overrides of a method's defaults, by method name (ReLoRA/ReMoRA: merge period and restart warmup). */
  methodOptions: Record<string, MethodOptions>;
  /** Methods of Table 3 (FFT is a reference line beyond the paper). */
  methods: string[];
  /** A method's MoRA variant, by method name (the paper's Eq. 6 sharing for MoRA). */
  variants: Record<string, string>;
  /** Learning-rate grid of the search, by method name, with `default` for the methods not named. */
  lrGrid: Record<string, number[]>;
  /** Seed of the search runs; no reported run uses it. */
  searchSeed: number;
  /** Seeds of the reported runs (`--seeds` overrides). */
  seeds: number[];
  /** Loss is read back this many times over a run (Figure 4's resolution). */
  lossPoints: number;
  /** Validation windows of `seqLen` tokens, spread evenly over the held-out documents. */
  evalWindows: number;
}

/** The paper's 250M model (§5.3, MoRA `configs/llama_250m.json`) with GPT-2's vocabulary. */
const PAPER_250M: LlamaConfig = { ...modelPreset("llama-250m"), vocabSize: 50_257 };

/** The paper's 1.3B model (ReLoRA `configs/llama_1b.json`) with GPT-2's vocabulary. */
const PAPER_1B: LlamaConfig = {
  ...PAPER_250M,
  hiddenSize: 2048,
  intermediateSize: 5461,
  numHiddenLayers: 24,
  numAttentionHeads: 32,
  numKeyValueHeads: 32,
  headDim: 64,
};

/** The fraction of block-projection weights LoRA at rank r trains on `config` (Σ (in + out) · r / Σ in · out). */
export function adapterFraction(config: LlamaConfig, r: number): number {
  const h = config.hiddenSize, i = config.intermediateSize;
  const q = config.numAttentionHeads * config.headDim, kv = config.numKeyValueHeads * config.headDim;
  const shapes: [number, number][] = [[h, q], [h, kv], [h, kv], [q, h], [h, i], [h, i], [i, h]];
  const weights = shapes.reduce((n, [a, b]) => n + a * b, 0);
  const adapter = shapes.reduce((n, [a, b]) => n + (a + b) * r, 0);
  return adapter / weights;
}

/** The paper's trainable fraction: r = 128 on its 250M model (25.0%). */
export const PAPER_FRACTION = adapterFraction(modelPreset("llama-250m"), 128);

/** The rank whose {@link adapterFraction} on `config` is nearest to `fraction`. */
export function rankForFraction(config: LlamaConfig, fraction: number): number {
  const perRank = adapterFraction(config, 1);
  return Math.max(1, Math.round(fraction / perRank));
}

/** ReLoRA's and ReMoRA's merge period and restart warmup (the other methods do not merge). */
function mergeOptions(period: number, restartWarmup: number): Record<string, MethodOptions> {
  const options = { mergeEvery: period, restartWarmup };
  return { relora: options, remora: options };
}

const ALL_METHODS = ["fft", "lora", "mora", "relora", "remora"];
const QUICK_MODEL: PretrainModel = { name: "reference", config: modelPreset("reference") };

/**
 * The pretraining presets by name: `quick` (the 2-core analog whose results are reported), `smoke` (the
 * same pipeline in seconds) and `paper` (the paper's shapes and budget); see the module docs.
 */
export const PRETRAIN_PRESETS: Readonly<Record<string, PretrainPreset>> = {
  quick: {
    name: "quick",
    models: [QUICK_MODEL],
    tokenizer: "byte",
    batch: 8,
    microBatches: 1,
    seqLen: 64,
    steps: 240,
    warmup: 24,
    weightDecay: 0,
    rank: rankForFraction(QUICK_MODEL.config, PAPER_FRACTION),
    methodOptions: mergeOptions(48, 2),
    methods: ALL_METHODS,
    variants: { mora: "sharing", remora: "sharing" },
    // Adapters' grid goes one step higher: zero-initialized adapters usually take larger rates than FFT.
    lrGrid: { fft: [3e-4, 1e-3, 3e-3, 1e-2], default: [1e-3, 3e-3, 1e-2, 3e-2] },
    searchSeed: 100,
    seeds: [0, 1, 2],
    lossPoints: 48,
    evalWindows: 128,
  },
  smoke: {
    name: "smoke",
    models: [QUICK_MODEL],
    tokenizer: "byte",
    batch: 4,
    microBatches: 1,
    seqLen: 32,
    steps: 16,
    warmup: 2,
    weightDecay: 0,
    rank: rankForFraction(QUICK_MODEL.config, PAPER_FRACTION),
    methodOptions: mergeOptions(6, 1),
    methods: ALL_METHODS,
    variants: { mora: "sharing", remora: "sharing" },
    lrGrid: { default: [3e-3] },
    searchSeed: 100,
    seeds: [0],
    lossPoints: 8,
    evalWindows: 16,
  },
  paper: {
    name: "paper",
    models: [{ name: "250M", config: PAPER_250M }, { name: "1.3B", config: PAPER_1B }],
    tokenizer: "gpt2",
    batch: 16,
    microBatches: 64,
    seqLen: 512,
    steps: 10_000,
    warmup: 1_000,
    weightDecay: 0,
    rank: 128,
    methodOptions: mergeOptions(2_000, 50),
    methods: ALL_METHODS,
    variants: { mora: "sharing", remora: "sharing" },
    // Around the MoRA README's 5e-4.
    lrGrid: { default: [2e-4, 5e-4, 1e-3] },
    searchSeed: 100,
    seeds: [0],
    lossPoints: 200,
    evalWindows: 2_048,
  },
};

/** A preset by name, with a clear error listing the valid names. */
export function pretrainPreset(name: string): PretrainPreset {
  const preset = PRETRAIN_PRESETS[name];
  if (!preset) {
    throw new RangeError(
      `Unknown pretraining preset "${name}": expected one of ${Object.keys(PRETRAIN_PRESETS).join(", ")}`,
    );
  }
  return preset;
}

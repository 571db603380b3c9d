/**
 * A tiny fine-tuning setup for tests: a 1-layer byte-level LLaMA (a 512-token context, so that the 5-shot
 * prompts fit) saved as a Hugging Face directory, and the smoke preset shrunk to a few examples and steps.
 *
 * @module
 */

import type { FinetuneBenchOptions } from "../../benchmarks/finetune.ts";
import { getTokenizer } from "../../lib/data/tokenizer.ts";
import { FINETUNE_PRESETS, type FinetunePreset } from "../../lib/finetune/presets.ts";
import { saveCheckpoint } from "../../lib/model/checkpoint.ts";
import type { LlamaConfig } from "../../lib/model/config.ts";
import { initLlamaWeights } from "../../lib/model/init.ts";

/** A 1-layer, 32-wide model with the byte vocabulary. */
export const TINY_CONFIG: LlamaConfig = {
  hiddenSize: 32,
  intermediateSize: 48,
  numHiddenLayers: 1,
  numAttentionHeads: 2,
  numKeyValueHeads: 2,
  vocabSize: 256,
  rmsNormEps: 1e-6,
  ropeTheta: 10000,
  tieWordEmbeddings: false,
  maxPositionEmbeddings: 512,
  headDim: 16,
};

/** The smoke preset on a few examples: 6 steps, two rates for adapters, one for FFT. */
export const TINY_PRESET: FinetunePreset = {
  ...FINETUNE_PRESETS.smoke!,
  name: "tiny",
  batch: 2,
  microBatches: 2,
  domainSeqLen: 32,
  domainWindows: 4,
  evalBatch: 4,
  lossPoints: 6,
  families: {
    instruction: { length: { steps: 6 }, warmup: 1, schedule: "cosine", lrGrid: { default: [1e-1] } },
    math: {
      length: { steps: 6 },
      warmup: 1,
      schedule: "cosine",
      lrGrid: { fft: [1e-2], default: [3e-2, 1e-1] },
    },
    domain: { length: { steps: 6 }, warmup: 1, schedule: "linear", lrGrid: { default: [1e-1] } },
  },
  sizes: {
    instruction: { train: 4, test: 2 },
    math: { train: 4, test: 2 },
    domain: { heldOut: 3, cloze: 2, clozePerDocument: 4 },
  },
};

/** Saves the tiny model into `outDir/base` and returns bench options using it. */
export async function tinyBench(outDir: string): Promise<FinetuneBenchOptions> {
  const base = `${outDir}/base`;
  await saveCheckpoint(base, TINY_CONFIG, initLlamaWeights(TINY_CONFIG, 1), getTokenizer("byte"), () => {});
  return { preset: TINY_PRESET, base, outDir, ranks: [1, 2] };
}

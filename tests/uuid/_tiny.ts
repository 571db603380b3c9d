/**
 * A tiny UUID setup for tests: a 1-layer byte-level LLaMA saved as a Hugging Face directory, and a preset of
 * a few pairs and steps.
 *
 * @module
 */

import type { UuidBenchOptions } from "../../benchmarks/uuid.ts";
import { byteTokenizer } from "../../lib/data/tokenizer.ts";
import { saveCheckpoint } from "../../lib/model/checkpoint.ts";
import type { LlamaConfig } from "../../lib/model/config.ts";
import { initLlamaWeights } from "../../lib/model/init.ts";
import { UUID_PRESETS, type UuidPreset } from "../../lib/uuid/presets.ts";

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
  maxPositionEmbeddings: 128,
  headDim: 16,
};

/** The quick preset shrunk to 4 pairs and 8 steps, in micro-batches of one pair. */
export const TINY_PRESET: UuidPreset = {
  ...UUID_PRESETS.quick!,
  pairs: 4,
  batch: 2,
  microBatches: 2, // exercises gradient accumulation, as the paper preset does
  steps: 8,
  warmup: 1,
  lossPoints: 8,
  ranks: [1, 2],
  sweepRanks: [1, 2],
  lrGrid: { fft: [1e-3], default: [3e-2, 1e-1] },
  seeds: [0],
  evalBatch: 4,
};

/** Saves the tiny model into a new temporary directory and returns bench options using it. */
export async function tinyBench(outDir: string): Promise<UuidBenchOptions> {
  const base = `${outDir}/base`;
  await saveCheckpoint(base, TINY_CONFIG, initLlamaWeights(TINY_CONFIG, 1), byteTokenizer, () => {});
  return { preset: TINY_PRESET, base, outDir, ranks: [1, 2] };
}

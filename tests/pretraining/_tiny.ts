/**
 * A tiny pretraining setup for tests: a 1-layer byte-level LLaMA, a preset of a few updates, and token
 * streams made from two short texts (no corpus load).
 *
 * @module
 */

import { byteTokenizer } from "../../lib/data/tokenizer.ts";
import type { LlamaConfig } from "../../lib/model/config.ts";
import type { PretrainData } from "../../lib/pretraining/data.ts";
import { PRETRAIN_PRESETS, type PretrainPreset } from "../../lib/pretraining/presets.ts";

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
  maxPositionEmbeddings: 64,
  headDim: 16,
};

/** The quick preset shrunk to 9 updates of 2 × 16 tokens, r = 2, ReLoRA/ReMoRA merging every 3. */
export const TINY_PRESET: PretrainPreset = {
  ...PRETRAIN_PRESETS.quick!,
  name: "tiny",
  models: [{ name: "tiny", config: TINY_CONFIG }],
  batch: 2,
  microBatches: 1,
  seqLen: 16,
  steps: 9,
  warmup: 1,
  rank: 2,
  methodOptions: { relora: { mergeEvery: 3, restartWarmup: 1 }, remora: { mergeEvery: 3, restartWarmup: 1 } },
  lrGrid: { default: [1e-2, 3e-2] },
  seeds: [0],
  lossPoints: 9,
  evalWindows: 4,
};

const TEXT = "the quick brown fox jumps over the lazy dog. ".repeat(40);

/** Byte streams of a training and a held-out text. */
export const TINY_DATA: PretrainData = {
  train: Uint32Array.from(byteTokenizer.encode(TEXT)),
  validation: Uint32Array.from(byteTokenizer.encode("a lazy dog jumps over the quick brown fox. ".repeat(8))),
  trainDocuments: 1,
  validationDocuments: 1,
};

/**
 * Named model sizes. `reference` is the training-step benchmark's config (≈2 GFLOP per step at batch 8,
 * sequence 64); `llama-250m` is the paper's pretraining model (§5.3, `configs/llama_250m.json`).
 *
 * @module
 */

import type { LlamaConfig } from "./config.ts";

function preset(
  hidden: number,
  intermediate: number,
  layers: number,
  heads: number,
  vocab: number,
  maxPos: number,
) {
  return {
    hiddenSize: hidden,
    intermediateSize: intermediate,
    numHiddenLayers: layers,
    numAttentionHeads: heads,
    numKeyValueHeads: heads,
    vocabSize: vocab,
    rmsNormEps: 1e-6,
    ropeTheta: 10000,
    tieWordEmbeddings: false,
    maxPositionEmbeddings: maxPos,
    headDim: hidden / heads,
  } satisfies LlamaConfig;
}

/** Model presets by name. */
export const MODEL_PRESETS: Readonly<Record<string, LlamaConfig>> = {
  /** The training-step benchmark config (hidden 128, 2 layers, 4 heads, intermediate 512, byte vocab). */
  reference: preset(128, 512, 2, 4, 256, 512),
  /**
   * The training-step benchmark's medium config (hidden 512, 4 layers, 8 heads, intermediate 1376, byte vocab):
   * large enough that the weight gradients adapters skip dominate a full fine-tuning step.
   */
  medium: preset(512, 1376, 4, 8, 256, 512),
  /** A small byte-level model for the UUID experiment at CPU scale. */
  small: preset(256, 688, 4, 4, 256, 512),
  /** The paper's 250M pretraining model (vocab 32100). */
  "llama-250m": preset(768, 2560, 24, 16, 32100, 1024),
};

/** A preset by name, with a clear error listing the valid names. */
export function modelPreset(name: string): LlamaConfig {
  const config = MODEL_PRESETS[name];
  if (!config) {
    throw new RangeError(
      `Unknown model preset "${name}": expected one of ${Object.keys(MODEL_PRESETS).join(", ")}`,
    );
  }
  return { ...config };
}

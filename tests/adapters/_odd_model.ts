/**
 * The adapter tests' odd-shaped model: no size is a multiple of 4, GQA with one kv head, 2 layers; q/o are
 * 30×30, k/v 10×30 (the smallest side, 10), gate/up 37×30, down 30×37.
 *
 * @module
 */

import type { LlamaConfig } from "../../lib/model/config.ts";

/** The odd-shaped config. */
export const ODD_CONFIG: LlamaConfig = {
  hiddenSize: 30,
  intermediateSize: 37,
  numHiddenLayers: 2,
  numAttentionHeads: 3,
  numKeyValueHeads: 1,
  vocabSize: 29,
  rmsNormEps: 1e-6,
  ropeTheta: 10000,
  tieWordEmbeddings: false,
  maxPositionEmbeddings: 32,
  headDim: 10,
};

/**
 * From documents to model batches: a token stream (BOS + tokens of each document, concatenated), a seeded
 * sampler of random training windows, and a sequential evaluation iterator for perplexity and bits per byte.
 *
 * Batches follow the transformers convention: `labels` equal `inputIds` and the model shifts by one
 * internally, so position `t` is scored on predicting `labels[t + 1]`; {@link IGNORE_INDEX} marks padding.
 *
 * @module
 */

import { IGNORE_INDEX } from "../ops/cross_entropy.ts";
import { mulberry32 } from "../random.ts";
import type { Tokenizer } from "./tokenizer.ts";

/** Label of a padded position, excluded from the loss (PyTorch's `ignore_index`). */

/** One batch, row-major `batchSize × seqLen`. */
export interface Batch {
  /** Token ids fed to the model. */
  inputIds: Uint32Array;
  /** Equal to `inputIds`, or {@link IGNORE_INDEX} at padding; the model shifts them by one. */
  labels: Int32Array;
}

/** Shape of the batches. */
export interface BatchShape {
  /** Rows per batch. */
  batchSize: number;
  /** Tokens per row. */
  seqLen: number;
}

/** Throws unless `batchSize ≥ 1` and `seqLen ≥ 2` are integers. */
function checkShape({ batchSize, seqLen }: BatchShape): void {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new Error(`Batch size must be a positive integer, got "${batchSize}"`);
  }
  if (!Number.isInteger(seqLen) || seqLen < 2) {
    throw new Error(`Sequence length must be an integer of at least 2, got "${seqLen}"`);
  }
}

/** BOS followed by the tokens of each document's text, all documents concatenated in order. */
export function tokenStream(docs: readonly { text: string }[], tokenizer: Tokenizer): Uint32Array {
  const encoded = docs.map((doc) => tokenizer.encode(doc.text));
  const total = encoded.reduce((sum, ids) => sum + 1 + ids.length, 0);
  const stream = new Uint32Array(total);
  let at = 0;
  for (const ids of encoded) {
    stream[at++] = tokenizer.bos;
    stream.set(ids, at);
    at += ids.length;
  }
  return stream;
}

/** Options of {@link trainBatches}. */
export interface TrainBatchOptions extends BatchShape {
  /** Seed of the window sampler; equal seeds give equal batch sequences. */
  seed: number;
}

/**
 * Endless batches of windows of `seqLen` consecutive tokens, each starting at a uniformly random offset
 * of the stream (nanoGPT's `get_batch`); windows may cross document boundaries, as in C4 packing.
 */
export function* trainBatches(stream: Uint32Array, options: TrainBatchOptions): Generator<Batch, never> {
  checkShape(options);
  const { batchSize, seqLen, seed } = options;
  if (stream.length < seqLen) {
    throw new Error(
      `Token stream has ${stream.length} tokens, fewer than seqLen "${seqLen}": lower seqLen or add documents`,
    );
  }
  const random = mulberry32(seed);
  const starts = stream.length - seqLen + 1;
  while (true) {
    const inputIds = new Uint32Array(batchSize * seqLen);
    for (let row = 0; row < batchSize; row++) {
      const start = Math.floor(random() * starts);
      inputIds.set(stream.subarray(start, start + seqLen), row * seqLen);
    }
    yield { inputIds, labels: Int32Array.from(inputIds) };
  }
}

/** An evaluation batch: full windows first, padded rows (all labels ignored) at the end of the split. */
export interface EvalBatch extends Batch {
  /** Rows holding a window; rows from here on are padding. */
  windows: number;
  /** Per row, how many tokens are predicted (scored): window length − 1, 0 for padding rows. */
  predictedTokens: Uint32Array;
  /** Per row, UTF-8 bytes the predicted tokens stand for (BOS counts 0), for bits per byte. */
  predictedBytes: Uint32Array;
}

/** Number of evaluation windows {@link evalBatches} makes of a stream: those with at least 2 tokens. */
export function evalWindowCount(streamLength: number, seqLen: number): number {
  const full = Math.floor(streamLength / seqLen);
  return full + (streamLength % seqLen >= 2 ? 1 : 0);
}

/** UTF-8 bytes covered by every token of `window` but the first (the predicted ones). */
function predictedByteCount(window: Uint32Array, tokenizer: Tokenizer): number {
  let bytes = 0;
  for (let i = 1; i < window.length; i++) bytes += tokenizer.tokenBytes(window[i]!);
  return bytes;
}

/** A batch with every row padding: input `pad`, labels {@link IGNORE_INDEX}. */
function emptyEvalBatch({ batchSize, seqLen }: BatchShape, pad: number): EvalBatch {
  return {
    inputIds: new Uint32Array(batchSize * seqLen).fill(pad),
    labels: new Int32Array(batchSize * seqLen).fill(IGNORE_INDEX),
    windows: 0,
    predictedTokens: new Uint32Array(batchSize),
    predictedBytes: new Uint32Array(batchSize),
  };
}

/**
 * Covers the stream once with non-overlapping windows of `seqLen` tokens, in order (perplexity with
 * stride = `seqLen`): every token except the first of each window is predicted exactly once. The last
 * window may be shorter, its tail padded with EOS inputs and ignored labels; a last window of a single
 * token predicts nothing and is dropped. Every batch has the full `batchSize × seqLen` shape.
 */
export function* evalBatches(
  stream: Uint32Array,
  tokenizer: Tokenizer,
  shape: BatchShape,
): Generator<EvalBatch> {
  checkShape(shape);
  const { batchSize, seqLen } = shape;
  const windowCount = evalWindowCount(stream.length, seqLen);
  for (let first = 0; first < windowCount; first += batchSize) {
    const batch = emptyEvalBatch(shape, tokenizer.eos);
    batch.windows = Math.min(batchSize, windowCount - first);
    for (let row = 0; row < batch.windows; row++) {
      const start = (first + row) * seqLen;
      const window = stream.subarray(start, start + seqLen);
      batch.inputIds.set(window, row * seqLen);
      batch.labels.set(window, row * seqLen);
      batch.predictedTokens[row] = window.length - 1;
      batch.predictedBytes[row] = predictedByteCount(window, tokenizer);
    }
    yield batch;
  }
}

/**
 * `count` windows of `seqLen` tokens at evenly spaced offsets of `stream`, back to back, so that
 * `evaluate`'s non-overlapping windows are exactly these.
 *
 * @throws {RangeError} when the stream is shorter than one window.
 */
export function evenWindows(stream: Uint32Array, seqLen: number, count: number): Uint32Array {
  if (stream.length < seqLen) {
    throw new RangeError(`Cannot take ${seqLen}-token windows of a ${stream.length}-token held-out stream`);
  }
  const n = Math.min(count, Math.floor(stream.length / seqLen));
  const out = new Uint32Array(n * seqLen);
  const span = stream.length - seqLen;
  for (let w = 0; w < n; w++) {
    const start = n === 1 ? 0 : Math.round((w * span) / (n - 1));
    out.set(stream.subarray(start, start + seqLen), w * seqLen);
  }
  return out;
}

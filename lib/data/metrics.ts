/**
 * Language-modelling metrics over the predicted tokens of an evaluation split.
 *
 * With NLLᵢ = −ln p(tokenᵢ | tokens before it) in nats, summed over the N predicted tokens (labels not
 * {@link IGNORE_INDEX}, each window's first token excluded) and B = the UTF-8 bytes those tokens stand for
 * (BOS/EOS count 0 bytes, but their NLL counts):
 *
 * - perplexity = exp(Σ NLLᵢ / N), which depends on the tokenizer;
 * - bits per byte = Σ NLLᵢ / (ln 2 · B), which does not, so byte-level and GPT-2 runs compare.
 *
 * @module
 */

import { IGNORE_INDEX } from "../ops/cross_entropy.ts";

/** Throws unless `count` is positive, naming what was counted. */
function checkPositive(count: number, what: string): void {
  if (!(count > 0)) {
    throw new Error(`Need a positive number of ${what}, got "${count}": evaluate on a non-empty split`);
  }
}

/** exp(`nllSum` / `tokens`): perplexity from the summed NLL (nats) of `tokens` predicted tokens. */
export function perplexity(nllSum: number, tokens: number): number {
  checkPositive(tokens, "predicted tokens");
  return Math.exp(nllSum / tokens);
}

/** `nllSum` / (ln 2 · `bytes`): bits per UTF-8 byte from the summed NLL (nats) of tokens covering `bytes`. */
export function bitsPerByte(nllSum: number, bytes: number): number {
  checkPositive(bytes, "UTF-8 bytes");
  return nllSum / (Math.LN2 * bytes);
}

/** Sums over an evaluation: NLL (nats), predicted tokens, and the UTF-8 bytes they cover. */
export class EvalTotals {
  /** Σ NLL over predicted tokens, nats. */
  nll = 0;
  /** Number of tokens predicted so far. */
  tokens = 0;
  /** UTF-8 bytes the predicted tokens stand for. */
  bytes = 0;

  /** Adds one batch's sums (e.g. an `EvalBatch`'s predicted tokens and bytes with its summed loss). */
  add(nll: number, tokens: number, bytes: number): void {
    this.nll += nll;
    this.tokens += tokens;
    this.bytes += bytes;
  }

  /** Mean NLL per predicted token, nats. */
  meanNll(): number {
    checkPositive(this.tokens, "predicted tokens");
    return this.nll / this.tokens;
  }

  /** See {@link perplexity}. */
  perplexity(): number {
    return perplexity(this.nll, this.tokens);
  }

  /** See {@link bitsPerByte}. */
  bitsPerByte(): number {
    return bitsPerByte(this.nll, this.bytes);
  }
}

/** Shape of a logits tensor, row-major `batchSize × seqLen × vocabSize`. */
export interface LogitsShape {
  /** Sequences (the outermost dimension). */
  batchSize: number;
  /** Positions per sequence. */
  seqLen: number;
  /** Logits per position. */
  vocabSize: number;
}

/** −ln softmax(`logits[offset … offset+vocabSize)`)[`target`], in float64 with a max shift. */
function tokenNll(logits: Float32Array, offset: number, vocabSize: number, target: number): number {
  let max = -Infinity;
  for (let v = 0; v < vocabSize; v++) max = Math.max(max, logits[offset + v]!);
  let sumExp = 0;
  for (let v = 0; v < vocabSize; v++) sumExp += Math.exp(logits[offset + v]! - max);
  return max + Math.log(sumExp) - logits[offset + target]!;
}

/**
 * CPU reference of the loss convention: Σ NLL of predicting `labels[b, t+1]` from `logits[b, t]` over
 * every label that is not {@link IGNORE_INDEX}, and how many such tokens there are.
 */
export function shiftedNll(
  logits: Float32Array,
  labels: Int32Array,
  { batchSize, seqLen, vocabSize }: LogitsShape,
): { nll: number; tokens: number } {
  if (logits.length !== batchSize * seqLen * vocabSize || labels.length !== batchSize * seqLen) {
    throw new Error(
      `Logits length "${logits.length}" and labels length "${labels.length}" do not match shape ` +
        `${batchSize}×${seqLen}×${vocabSize}: pass tensors of that shape`,
    );
  }
  let nll = 0;
  let tokens = 0;
  for (let b = 0; b < batchSize; b++) {
    for (let t = 0; t + 1 < seqLen; t++) {
      const target = labels[b * seqLen + t + 1]!;
      if (target === IGNORE_INDEX) continue;
      nll += tokenNll(logits, (b * seqLen + t) * vocabSize, vocabSize, target);
      tokens++;
    }
  }
  return { nll, tokens };
}

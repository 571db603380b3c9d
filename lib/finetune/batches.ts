/**
 * Training batches of the fine-tuning tasks. Supervised examples (instruction, math) are `BOS prompt
 * completion EOS`, with the loss on the completion and its EOS only, in endless epochs of seeded shuffles,
 * right-padded with EOS under ignored labels. Domain documents train as the base pretrained: random windows of
 * their token stream, loss everywhere (`lib/data/batches.ts`).
 *
 * @module
 */

import type { Tokenizer } from "../data/tokenizer.ts";
import { IGNORE_INDEX } from "../ops/cross_entropy.ts";
import { SeededRandom } from "../random.ts";
import { shuffled } from "./random.ts";
import type { SftExample } from "./tasks.ts";

/** A tokenized supervised example: ids, and where the completion starts. */
export interface TokenizedExample {
  ids: number[];
  /** Index in `ids` of the completion's first token. */
  completionStart: number;
}

/** `BOS prompt completion EOS`, the completion starting after the prompt. */
export function tokenizeExample(e: SftExample, tokenizer: Tokenizer): TokenizedExample {
  const prompt = [tokenizer.bos, ...tokenizer.encode(e.prompt)];
  return {
    ids: [...prompt, ...tokenizer.encode(e.completion), tokenizer.eos],
    completionStart: prompt.length,
  };
}

/** Endless shuffled batches of `batchSize` examples in `seqLen` columns; labels on the completions only. */
export function* sftBatches(
  examples: readonly TokenizedExample[],
  o: { batchSize: number; seqLen: number; seed: number; pad: number },
): Generator<{ inputIds: Uint32Array; labels: Int32Array }, never> {
  const rng = new SeededRandom(o.seed, "finetune-batches");
  let order: TokenizedExample[] = [];
  while (true) {
    const inputIds = new Uint32Array(o.batchSize * o.seqLen).fill(o.pad);
    const labels = new Int32Array(o.batchSize * o.seqLen).fill(IGNORE_INDEX);
    for (let row = 0; row < o.batchSize; row++) {
      if (order.length === 0) order = shuffled(examples, rng);
      const e = order.pop()!;
      inputIds.set(e.ids, row * o.seqLen);
      labels.set(e.ids.slice(e.completionStart), row * o.seqLen + e.completionStart);
    }
    yield { inputIds, labels };
  }
}

/**
 * Endless passes over a fixed sample of a domain: the stream's first `windows` non-overlapping windows of
 * `seqLen` tokens, `batchSize` per batch, in the same order every pass (so the loss read at the end of each
 * pass is on the same batch, and compares like with like).
 *
 * @throws {RangeError} when the stream is shorter than the sample or `batchSize` does not divide `windows`.
 */
export function* cyclicWindows(
  stream: Uint32Array,
  o: { windows: number; batchSize: number; seqLen: number },
): Generator<{ inputIds: Uint32Array; labels: Int32Array }, never> {
  if (o.windows % o.batchSize !== 0) {
    throw new RangeError(
      `Cannot split ${o.windows} domain windows into batches of ${o.batchSize}: make it a multiple`,
    );
  }
  if (stream.length < o.windows * o.seqLen) {
    throw new RangeError(
      `Cannot take ${o.windows} windows of ${o.seqLen} tokens from a ${stream.length}-token domain: give more text`,
    );
  }
  const perPass = o.windows / o.batchSize;
  for (let b = 0;; b = (b + 1) % perPass) {
    const inputIds = stream.slice(b * o.batchSize * o.seqLen, (b + 1) * o.batchSize * o.seqLen);
    yield { inputIds, labels: Int32Array.from(inputIds) };
  }
}

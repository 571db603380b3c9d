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

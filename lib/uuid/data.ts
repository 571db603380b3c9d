/**
 * The UUID memorization data (paper §3 and §5.1; spec MoRA §7): random key/value pairs of version-4 UUIDs,
 * each trained as the text `key:value` after a BOS token, with the causal-LM loss over the whole sequence
 * (labels = input ids, key included), as the authors did. Everything is seeded.
 *
 * @module
 */

import type { Tokenizer } from "../data/tokenizer.ts";
import { IGNORE_INDEX } from "../ops/cross_entropy.ts";
import { SeededRandom } from "../random.ts";

/** One pair to memorize. */
export interface UuidPair {
  /** The prompt UUID. */
  key: string;
  /** The UUID to recall. */
  value: string;
}

const HEX = "0123456789abcdef";

/** A lowercase RFC 4122 version-4 UUID (`xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx`, y ∈ 8..b) from `rng`. */
export function uuidV4(rng: SeededRandom): string {
  let out = "";
  for (let i = 0; i < 32; i++) {
    let nibble = Math.floor(rng.next() * 16);
    if (i === 12) nibble = 4; // version
    if (i === 16) nibble = 8 + (nibble & 3); // variant 10xx
    out += HEX[nibble];
    if (i === 7 || i === 11 || i === 15 || i === 19) out += "-";
  }
  return out;
}

/**
 * `count` distinct pairs, deterministic in `seed`. `stream` names the random stream: the task's pairs and the
 * base model's pretraining pairs ({@link uuidPretrainingDocuments}) come from different streams, so they never
 * share a pair.
 */
export function makeUuidPairs(count: number, seed: number, stream = "uuid-pairs"): UuidPair[] {
  if (!Number.isInteger(count) || count < 1) {
    throw new RangeError(`Cannot make ${count} UUID pairs: use a positive integer`);
  }
  const rng = new SeededRandom(seed, stream);
  const seen = new Set<string>();
  const pairs: UuidPair[] = [];
  while (pairs.length < count) {
    const pair = { key: uuidV4(rng), value: uuidV4(rng) };
    if (seen.has(pair.key)) continue;
    seen.add(pair.key);
    pairs.push(pair);
  }
  return pairs;
}

/**
 * Documents of unrelated UUID pairs for the base model's pretraining stream: `key:value` lines, `perDocument`
 * pairs each. The paper's base (LLaMA-2 7B) saw UUID-shaped text before the task; a base pretrained on these
 * knows the format, so an adapter's capacity goes to the pairs themselves. They come from their own random
 * stream, never the task's.
 */
export function uuidPretrainingDocuments(
  pairs: number,
  perDocument: number,
  seed: number,
): { id: string; text: string }[] {
  const all = makeUuidPairs(pairs, seed, "uuid-pretraining");
  const docs: { id: string; text: string }[] = [];
  for (let i = 0; i < all.length; i += perDocument) {
    const lines = all.slice(i, i + perDocument).map((p) => `${p.key}:${p.value}`);
    docs.push({ id: `uuid-${i / perDocument}`, text: `${lines.join("\n")}\n` });
  }
  return docs;
}

/** A pair tokenized: the full training sequence and where the value starts. */
export interface UuidExample {
  /** BOS + tokens of `key:value`. */
  ids: number[];
  /** BOS + tokens of `key:` (the generation prompt). */
  promptIds: number[];
}

/** Tokenizes pairs for training and prompting. */
export function tokenizePairs(pairs: readonly UuidPair[], tokenizer: Tokenizer): UuidExample[] {
  return pairs.map(({ key, value }) => ({
    ids: [tokenizer.bos, ...tokenizer.encode(`${key}:${value}`)],
    promptIds: [tokenizer.bos, ...tokenizer.encode(`${key}:`)],
  }));
}

/** The longest example, the sequence length of every training batch. */
export function uuidSeqLen(examples: readonly UuidExample[]): number {
  return Math.max(...examples.map((e) => e.ids.length));
}

/**
 * Endless epochs of shuffled batches (a fresh seeded permutation per epoch, the last batch of an epoch wrapping
 * into the next permutation so every batch is full). Shorter examples are right-padded with EOS and `-100`
 * labels (byte-level UUID examples all have the same length).
 */
export function* uuidBatches(
  examples: readonly UuidExample[],
  options: { batchSize: number; seqLen: number; seed: number; pad: number },
): Generator<{ inputIds: Uint32Array; labels: Int32Array }, never> {
  const { batchSize, seqLen } = options;
  const rng = new SeededRandom(options.seed, "uuid-batches");
  let order: number[] = [];
  while (true) {
    const inputIds = new Uint32Array(batchSize * seqLen).fill(options.pad);
    const labels = new Int32Array(batchSize * seqLen).fill(IGNORE_INDEX);
    for (let row = 0; row < batchSize; row++) {
      if (order.length === 0) order = permutation(examples.length, rng);
      const ids = examples[order.pop()!]!.ids;
      inputIds.set(ids, row * seqLen);
      labels.set(ids, row * seqLen);
    }
    yield { inputIds, labels };
  }
}

function permutation(n: number, rng: SeededRandom): number[] {
  const out = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/**
 * A user's fine-tuning data from one file, as fixed-length training examples:
 *
 * - plain text (any extension but `.jsonl`): one document;
 * - JSONL with a `text` field per line: one document per line;
 * - JSONL with `prompt` and `response` fields per line: one example per line, BOS + prompt + response + EOS,
 *   with the loss on the response (and EOS) only: the prompt's labels are {@link IGNORE_INDEX}.
 *
 * Documents are packed: BOS + tokens of each, concatenated and cut into windows of `seqLen` tokens (the last
 * one shorter). An epoch visits every example once in a seeded order; a batch position in the run fixes the
 * batch, so a resumed run draws exactly the batches it would have drawn.
 *
 * @module
 */

import { IGNORE_INDEX } from "../ops/cross_entropy.ts";
import { SeededRandom } from "../random.ts";
import { tokenStream } from "./batches.ts";
import type { Tokenizer } from "./tokenizer.ts";

/** One training example: token ids and labels of the same length, at most the sequence length. */
export interface Example {
  /** Token ids. */
  ids: number[];
  /** Equal to `ids`, or {@link IGNORE_INDEX} where no loss is taken (a prompt). */
  labels: number[];
}

/** One JSONL line, checked: a document or a prompt/response pair. */
type Record = { text: string } | { prompt: string; response: string };

function parseLine(line: string, where: string): Record {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch (e) {
    throw new SyntaxError(`${where} is not valid JSON (${(e as Error).message}); fix the line`);
  }
  const r = json as Partial<{ text: unknown; prompt: unknown; response: unknown }>;
  if (typeof r?.text === "string") return { text: r.text };
  if (typeof r?.prompt === "string" && typeof r?.response === "string") {
    return { prompt: r.prompt, response: r.response };
  }
  throw new SyntaxError(
    `${where} has neither a string "text" nor string "prompt" and "response" fields; give one of the two`,
  );
}

/** The windows of `seqLen` tokens that documents packed into one stream make (labels = ids). */
function packDocuments(texts: string[], tokenizer: Tokenizer, seqLen: number): Example[] {
  const stream = Array.from(tokenStream(texts.map((text) => ({ text })), tokenizer));
  const out: Example[] = [];
  for (let at = 0; at + 1 < stream.length; at += seqLen) {
    const ids = stream.slice(at, at + seqLen);
    out.push({ ids, labels: [...ids] });
  }
  return out;
}

/** BOS + prompt + response + EOS, loss on the response and EOS; refused when the prompt leaves no room. */
function pairExample(
  pair: { prompt: string; response: string },
  tokenizer: Tokenizer,
  seqLen: number,
  where: string,
): Example {
  // The whole text is encoded at once (the prompt's length read from its own encoding), so the ids are those
  // the tokenizer gives the text, as the common supervised fine-tuning recipes do.
  const prompt = [tokenizer.bos, ...tokenizer.encode(pair.prompt)];
  const ids = [tokenizer.bos, ...tokenizer.encode(pair.prompt + pair.response), tokenizer.eos];
  if (ids.length > seqLen) {
    throw new RangeError(
      `${where} is ${ids.length} tokens with BOS and EOS, longer than --seq ${seqLen}; raise --seq or shorten it`,
    );
  }
  const masked = Math.min(prompt.length, ids.length - 1);
  return { ids, labels: ids.map((id, i) => (i < masked ? IGNORE_INDEX : id)) };
}

/**
 * Reads `path` into examples of at most `seqLen` tokens (see the module doc for the formats).
 *
 * @throws {SyntaxError} naming the line that is not valid, or mixes documents and pairs.
 * @throws {RangeError} when the file gives no example, or a pair is longer than `seqLen`.
 */
export async function readExamples(path: string, tokenizer: Tokenizer, seqLen: number): Promise<Example[]> {
  const text = await Deno.readTextFile(path);
  let examples: Example[];
  if (!path.endsWith(".jsonl")) {
    examples = packDocuments([text], tokenizer, seqLen);
  } else {
    const lines = text.split("\n").map((line, i) => ({ line, where: `Line ${i + 1} of "${path}"` }))
      .filter(({ line }) => line.trim() !== "");
    const records = lines.map(({ line, where }) => ({ record: parseLine(line, where), where }));
    const pairs = records.filter(({ record }) => "prompt" in record);
    if (pairs.length > 0 && pairs.length < records.length) {
      const doc = records.find(({ record }) => "text" in record)!;
      throw new SyntaxError(
        `${doc.where} is a "text" document but other lines are prompt/response pairs; use one kind per file`,
      );
    }
    examples = pairs.length > 0
      ? pairs.map(({ record, where }) =>
        pairExample(record as { prompt: string; response: string }, tokenizer, seqLen, where)
      )
      : packDocuments(records.map(({ record }) => (record as { text: string }).text), tokenizer, seqLen);
  }
  if (examples.length === 0) {
    throw new RangeError(`"${path}" gives no training example (it needs at least 2 tokens); add text`);
  }
  return examples;
}

/** Batches per epoch: every example once, the last batch filled from the next epoch's order. */
export function batchesPerEpoch(examples: number, batchSize: number): number {
  return Math.ceil(examples / batchSize);
}

/**
 * The batches of a run from batch `start` on (0-based): epochs of a seeded permutation of the examples, rows
 * right-padded to `seqLen` with `pad` and ignored labels. Batch `i` is the same whatever `start` is.
 */
export function* exampleBatches(
  examples: readonly Example[],
  options: { batchSize: number; seqLen: number; seed: number; pad: number; start: number },
): Generator<{ inputIds: Uint32Array; labels: Int32Array; tokens: number }, never> {
  const { batchSize, seqLen } = options;
  const rng = new SeededRandom(options.seed, "finetune-batches");
  let order: number[] = [];
  const next = () => {
    if (order.length === 0) order = shuffled(examples.length, rng);
    return examples[order.pop()!]!;
  };
  for (let skip = 0; skip < options.start * batchSize; skip++) next();
  while (true) {
    const inputIds = new Uint32Array(batchSize * seqLen).fill(options.pad);
    const labels = new Int32Array(batchSize * seqLen).fill(IGNORE_INDEX);
    let tokens = 0;
    for (let row = 0; row < batchSize; row++) {
      const example = next();
      inputIds.set(example.ids, row * seqLen);
      labels.set(example.labels, row * seqLen);
      tokens += example.ids.length;
    }
    yield { inputIds, labels, tokens };
  }
}

/** A seeded Fisher–Yates permutation of 0..n−1. */
function shuffled(n: number, rng: SeededRandom): number[] {
  const out = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

import assert from "node:assert/strict";
import { evalBatches, evalWindowCount, tokenStream, trainBatches } from "../../lib/data/batches.ts";
import { byteTokenizer } from "../../lib/data/tokenizer.ts";
import { IGNORE_INDEX } from "../../lib/ops/cross_entropy.ts";

/** A stream whose token at position i is i, so windows show where they came from. */
function positions(length: number): Uint32Array {
  return Uint32Array.from({ length }, (_, i) => i + 10);
}

function take<T>(iterator: Iterator<T>, count: number): T[] {
  return Array.from({ length: count }, () => iterator.next().value as T);
}

Deno.test("tokenStream puts BOS before each document's tokens and concatenates them", () => {
  const stream = tokenStream([{ text: "ab" }, { text: "" }, { text: "é" }], byteTokenizer);
  assert.deepEqual([...stream], [2, 0x61, 0x62, 2, 2, 0xc3, 0xa9]);
});

Deno.test("trainBatches yields batch×seqLen windows of consecutive tokens with labels equal to inputs", () => {
  const [batch] = take(trainBatches(positions(50), { batchSize: 3, seqLen: 8, seed: 1 }), 1);
  assert.equal(batch!.inputIds.length, 24);
  assert.equal(batch!.labels.length, 24);
  assert.deepEqual([...batch!.labels], [...batch!.inputIds]);
  for (let row = 0; row < 3; row++) {
    const window = batch!.inputIds.subarray(row * 8, row * 8 + 8);
    assert.ok(window.every((id, i) => id === window[0]! + i && id >= 10 && id < 60), `row ${row}: ${window}`);
  }
});

Deno.test("trainBatches is deterministic for a seed and differs across seeds", () => {
  const batches = (seed: number) =>
    take(trainBatches(positions(1000), { batchSize: 4, seqLen: 16, seed }), 5).map((b) => [...b.inputIds]);
  assert.deepEqual(batches(7), batches(7));
  assert.notDeepEqual(batches(7), batches(8));
});

Deno.test("trainBatches reaches both ends of the stream", () => {
  const starts = new Set<number>();
  for (const batch of take(trainBatches(positions(12), { batchSize: 8, seqLen: 10, seed: 3 }), 10)) {
    for (let row = 0; row < 8; row++) starts.add(batch.inputIds[row * 10]!);
  }
  assert.deepEqual([...starts].sort(), [10, 11, 12]);
});

Deno.test("trainBatches rejects a stream shorter than seqLen and bad shapes", () => {
  assert.throws(
    () => trainBatches(positions(5), { batchSize: 1, seqLen: 8, seed: 0 }).next(),
    /fewer than seqLen "8"/,
  );
  assert.throws(() => trainBatches(positions(50), { batchSize: 0, seqLen: 8, seed: 0 }).next(), /Batch size/);
  assert.throws(
    () => trainBatches(positions(50), { batchSize: 1, seqLen: 1, seed: 0 }).next(),
    /Sequence length/,
  );
});

Deno.test("evalBatches covers the stream once with non-overlapping windows, padding the tail", () => {
  const batches = [...evalBatches(positions(10), byteTokenizer, { batchSize: 2, seqLen: 4 })];
  assert.equal(batches.length, 2);
  assert.deepEqual(batches.map((b) => b.windows), [2, 1]);
  assert.deepEqual([...batches[0]!.inputIds], [10, 11, 12, 13, 14, 15, 16, 17]);
  const pad = byteTokenizer.eos;
  const ig = IGNORE_INDEX;
  assert.deepEqual([...batches[1]!.inputIds], [18, 19, pad, pad, pad, pad, pad, pad]);
  assert.deepEqual([...batches[1]!.labels], [18, 19, ig, ig, ig, ig, ig, ig]);
  assert.deepEqual(batches.map((b) => [...b.predictedTokens]), [[3, 3], [1, 0]]);
});

Deno.test("evalBatches counts the UTF-8 bytes of predicted tokens, BOS as zero", () => {
  const stream = tokenStream([{ text: "aé" }, { text: "bc" }], byteTokenizer); // 2 a é é 2 b c
  const [batch] = [...evalBatches(stream, byteTokenizer, { batchSize: 2, seqLen: 4 })];
  assert.deepEqual([...batch!.predictedTokens], [3, 2]);
  assert.deepEqual([...batch!.predictedBytes], [3, 2]);
});

Deno.test("evalWindowCount drops a final window of one token, which predicts nothing", () => {
  assert.equal(evalWindowCount(8, 4), 2);
  assert.equal(evalWindowCount(9, 4), 2);
  assert.equal(evalWindowCount(10, 4), 3);
  assert.equal([...evalBatches(positions(9), byteTokenizer, { batchSize: 4, seqLen: 4 })][0]!.windows, 2);
});

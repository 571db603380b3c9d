import assert from "node:assert/strict";
import { IGNORE_INDEX } from "../../lib/ops/cross_entropy.ts";
import { bitsPerByte, EvalTotals, perplexity, shiftedNll } from "../../lib/data/metrics.ts";

const CLOSE = 1e-12;

function assertClose(actual: number, expected: number): void {
  assert.ok(
    Math.abs(actual - expected) <= CLOSE * Math.max(1, Math.abs(expected)),
    `${actual} != ${expected}`,
  );
}

Deno.test("perplexity is exp of the mean NLL per token", () => {
  assertClose(perplexity(3 * Math.log(4), 3), 4);
  assertClose(perplexity(0, 5), 1);
});

Deno.test("bitsPerByte divides the summed NLL by ln 2 times the bytes covered", () => {
  assertClose(bitsPerByte(8 * Math.LN2, 4), 2);
  assertClose(bitsPerByte(Math.log(256) * 10, 10), 8);
});

Deno.test("metrics reject empty evaluations", () => {
  assert.throws(() => perplexity(1, 0), /positive number of predicted tokens, got "0"/);
  assert.throws(() => bitsPerByte(1, 0), /positive number of UTF-8 bytes, got "0"/);
  assert.throws(() => new EvalTotals().meanNll(), /predicted tokens/);
});

Deno.test("EvalTotals accumulates NLL, tokens and bytes across batches", () => {
  const totals = new EvalTotals();
  totals.add(2 * Math.log(2), 2, 3);
  totals.add(4 * Math.log(2), 2, 1);
  assertClose(totals.meanNll(), 1.5 * Math.LN2);
  assertClose(totals.perplexity(), 2 ** 1.5);
  assertClose(totals.bitsPerByte(), 1.5);
});

Deno.test("shiftedNll scores labels[t+1] from logits[t] and skips ignored labels", () => {
  // vocab 2, one row of 3 positions; logits [0, ln 3] put p = 3/4 on token 1 and 1/4 on token 0.
  const logits = Float32Array.from([0, Math.log(3), 0, Math.log(3), 5, 5]);
  const labels = Int32Array.from([0, 1, 0]);
  const { nll, tokens } = shiftedNll(logits, labels, { batchSize: 1, seqLen: 3, vocabSize: 2 });
  assert.equal(tokens, 2);
  assert.ok(Math.abs(nll - (Math.log(4 / 3) + Math.log(4))) < 1e-6, `${nll}`);
  const ignored = shiftedNll(logits, Int32Array.from([0, 1, IGNORE_INDEX]), {
    batchSize: 1,
    seqLen: 3,
    vocabSize: 2,
  });
  assert.equal(ignored.tokens, 1);
  assert.ok(Math.abs(ignored.nll - Math.log(4 / 3)) < 1e-6);
});

Deno.test("shiftedNll gives uniform logits a perplexity equal to the vocabulary size", () => {
  const shape = { batchSize: 2, seqLen: 4, vocabSize: 7 };
  const labels = Int32Array.from([1, 2, 3, 4, 5, 6, 0, 1]);
  const { nll, tokens } = shiftedNll(new Float32Array(2 * 4 * 7).fill(0.3), labels, shape);
  assert.equal(tokens, 6);
  assert.ok(Math.abs(perplexity(nll, tokens) - 7) < 1e-9);
  assert.throws(() => shiftedNll(new Float32Array(3), labels, shape), /do not match shape 2×4×7/);
});

import { deepStrictEqual, rejects, throws } from "node:assert/strict";
import { runDispatches } from "../../lib/gpu/kernel.ts";
import { createTensor, readTensor } from "../../lib/gpu/tensor.ts";
import {
  embeddingBackward,
  embeddingBackwardCpu,
  embeddingBackwardIndex,
  embeddingForward,
  embeddingForwardCpu,
} from "../../lib/ops/embedding.ts";
import { assertAllClose, dot, numericGradient, randomF64, Rng } from "../_numeric.ts";
import { gpuTest, testGpu } from "../_gpu.ts";

/** (tokens, dim, vocab): dims 1, 3, 33, 130, 257 take the f32 kernel; 4 and 128 the vec4f one. */
const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [7, 3, 5],
  [300, 33, 17],
  [65, 130, 200],
  [9, 257, 4],
  [13, 4, 3],
  [512, 128, 64],
];

/** Random ids in [0, vocab), skewed so some ids repeat many times and some never occur. */
function randomIds(rng: Rng, tokens: number, vocab: number): Uint32Array<ArrayBuffer> {
  const ids = new Uint32Array(tokens);
  for (let t = 0; t < tokens; t++) ids[t] = Math.floor(vocab * rng.next() ** 2);
  return ids;
}

/** Runs the backward on the GPU, optionally accumulating into `dtableInit`. */
async function backwardGpu(
  ids: Uint32Array,
  douts: Float32Array<ArrayBuffer>,
  dim: number,
  vocab: number,
  dtableInit?: Float32Array<ArrayBuffer>,
): Promise<Float32Array> {
  const gpu = await testGpu();
  const tokens = ids.length;
  const index = embeddingBackwardIndex(ids, vocab);
  const order = createTensor(gpu, "order", [tokens], index.order);
  const starts = createTensor(gpu, "starts", [vocab + 1], index.starts);
  const dout = createTensor(gpu, "dout", [tokens, dim], douts);
  const dtable = createTensor(gpu, "dtable", [vocab, dim], dtableInit);
  const accumulate = dtableInit !== undefined;
  await runDispatches(
    gpu,
    await embeddingBackward(gpu, { dtable, dout, order, starts, vocab, dim, tokens, accumulate }),
  );
  const result = await readTensor(dtable);
  for (const t of [order, starts, dout, dtable]) t.destroy();
  return result;
}

Deno.test({
  name: "embedding forward and backward match the CPU reference on awkward shapes",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const rng = new Rng(41);
    for (const [tokens, dim, vocab] of SHAPES) {
      const ids = randomIds(rng, tokens, vocab);
      const tableValues = rng.floats(vocab * dim);
      const douts = rng.floats(tokens * dim);
      const idsTensor = createTensor(gpu, "ids", [tokens], ids);
      const table = createTensor(gpu, "table", [vocab, dim], tableValues);
      const out = createTensor(gpu, "out", [tokens, dim]);
      await runDispatches(
        gpu,
        await embeddingForward(gpu, { out, ids: idsTensor, table, tokens, dim, vocab }),
      );
      const what = `(${tokens}, ${dim}, ${vocab})`;
      // A copy: exact.
      assertAllClose(await readTensor(out), embeddingForwardCpu(ids, tableValues, dim, vocab), {
        atol: 0,
        rtol: 0,
      }, `out ${what}`);
      // float32 sums of up to `tokens` values of |dout| ≤ 1: a few ulp per addition.
      const tol = { atol: 1e-7 * tokens, rtol: 1e-6 };
      const expected = embeddingBackwardCpu(ids, douts, dim, vocab);
      const dtable = await backwardGpu(ids, douts, dim, vocab);
      assertAllClose(dtable, expected, tol, `dtable ${what}`);
      // Deterministic: a second run gives the same bits.
      deepStrictEqual(
        new Uint32Array((await backwardGpu(ids, douts, dim, vocab)).buffer),
        new Uint32Array(dtable.buffer),
      );
      const prior = rng.floats(vocab * dim);
      const accumulated = await backwardGpu(ids, douts, dim, vocab, prior);
      assertAllClose(accumulated, expected.map((g, i) => g + prior[i]!), tol, `accumulated dtable ${what}`);
      for (const t of [idsTensor, table, out]) t.destroy();
    }
  },
});

Deno.test({
  name: "embedding forward writes zeros for out-of-range ids",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    for (const dim of [3, 8]) {
      const vocab = 4;
      const ids = new Uint32Array([1, 4, 0xffffffff, 3, 1000]);
      const tableValues = new Float32Array(vocab * dim).map((_, i) => i + 1);
      const idsTensor = createTensor(gpu, "ids", [ids.length], ids);
      const table = createTensor(gpu, "table", [vocab, dim], tableValues);
      const out = createTensor(gpu, "out", [ids.length, dim]);
      await runDispatches(
        gpu,
        await embeddingForward(gpu, { out, ids: idsTensor, table, tokens: 5, dim, vocab }),
      );
      // A copy or a zero: exact.
      assertAllClose(await readTensor(out), embeddingForwardCpu(ids, tableValues, dim, vocab), {
        atol: 0,
        rtol: 0,
      });
      for (const t of [idsTensor, table, out]) t.destroy();
    }
  },
});

Deno.test("embedding index groups positions by id, stably, and rejects out-of-range ids", () => {
  const { order, starts } = embeddingBackwardIndex(new Uint32Array([2, 0, 2, 4, 0, 2]), 5);
  deepStrictEqual(Array.from(order), [1, 4, 0, 2, 5, 3]);
  deepStrictEqual(Array.from(starts), [0, 2, 2, 5, 5, 6]);
  throws(() => embeddingBackwardIndex(new Uint32Array([0, 7]), 5), {
    name: "RangeError",
    message: /token 1 has id 7, outside vocab size 5/,
  });
});

Deno.test("embedding CPU backward matches central finite differences", () => {
  const rng = new Rng(42);
  const [dim, vocab] = [3, 4];
  const ids = new Uint32Array([2, 0, 2, 2, 1]);
  const table = randomF64(rng, vocab * dim);
  const dout = randomF64(rng, ids.length * dim);
  const loss = () => dot(embeddingForwardCpu(ids, table, dim, vocab), dout);
  // Central differences with h = 1e-6 in float64 on a linear map: only rounding, ~1e-10 / h.
  assertAllClose(embeddingBackwardCpu(ids, dout, dim, vocab), numericGradient(loss, table), {
    atol: 1e-8,
    rtol: 1e-7,
  });
});

Deno.test({
  name: "embedding rejects tensors of the wrong size, naming them",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const dtable = createTensor(gpu, "dtable", [5, 2]);
    const dout = createTensor(gpu, "dout", [3, 2]);
    const order = createTensor(gpu, "order", [3]);
    const starts = createTensor(gpu, "starts", [5]);
    const args = { dtable, dout, order, starts, vocab: 5, dim: 2, tokens: 3 };
    await rejects(embeddingBackward(gpu, args), {
      name: "RangeError",
      message: /tensor "starts" has 5 values/,
    });
    for (const t of [dtable, dout, order, starts]) t.destroy();
  },
});

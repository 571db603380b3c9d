import assert from "node:assert/strict";
import { runDispatches } from "../../lib/gpu/kernel.ts";
import { createTensor, readTensor, readTensorU32 } from "../../lib/gpu/tensor.ts";
import { greedyArgmax, greedyArgmaxCpu, kvCacheWrite, kvCacheWriteCpu } from "../../lib/ops/decode.ts";
import { Rng } from "../_numeric.ts";
import { gpuTest, testGpu } from "../_gpu.ts";

Deno.test({
  name: "kvCacheWrite copies new rows at the offset and leaves the rest",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const rng = new Rng(3);
    const shape = { batch: 3, newLen: 2, width: 7, capacity: 9, offset: 4 };
    const cacheInit = rng.floats(shape.batch * shape.capacity * shape.width);
    const src = rng.floats(shape.batch * shape.newLen * shape.width);
    const cache = createTensor(gpu, "cache", [shape.batch, shape.capacity, shape.width], cacheInit);
    const srcT = createTensor(gpu, "src", [shape.batch, shape.newLen, shape.width], src);
    await runDispatches(gpu, await kvCacheWrite(gpu, { cache, src: srcT, ...shape }));
    const expected = Float64Array.from(cacheInit);
    kvCacheWriteCpu(expected, src, shape);
    // A copy is exact.
    assert.deepEqual(Array.from(await readTensor(cache)), Array.from(Float32Array.from(expected)));
    await assert.rejects(
      () => kvCacheWrite(gpu, { cache, src: srcT, ...shape, offset: 8 }),
      /larger capacity/,
    );
    cache.destroy();
    srcT.destroy();
  },
});

Deno.test({
  name: "greedyArgmax picks the lowest index of the maximum of each last position",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const rng = new Rng(4);
    for (const [batch, queryLen, vocab] of [[1, 1, 1], [3, 2, 5], [4, 3, 257], [2, 1, 1000]] as const) {
      const values = rng.floats(batch * queryLen * vocab);
      if (vocab > 3) values[(queryLen - 1) * vocab + 2] = values[(queryLen - 1) * vocab + 3] = 5; // a tie
      const logits = createTensor(gpu, "logits", [batch, queryLen, vocab], values);
      const next = createTensor(gpu, "next", [batch]);
      const generated = createTensor(gpu, "generated", [batch, 4]);
      await runDispatches(
        gpu,
        await greedyArgmax(gpu, { next, generated, logits, batch, queryLen, vocab, genStride: 4, column: 2 }),
      );
      const expected = greedyArgmaxCpu(values, batch, queryLen, vocab);
      assert.deepEqual(Array.from(await readTensorU32(next)), expected);
      const gen = await readTensorU32(generated);
      assert.deepEqual(Array.from({ length: batch }, (_, b) => gen[b * 4 + 2]), expected);
      for (const t of [logits, next, generated]) t.destroy();
    }
  },
});

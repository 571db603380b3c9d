import { createTensor, readTensor } from "../../lib/gpu/tensor.ts";
import { runDispatches } from "../../lib/gpu/kernel.ts";
import { addScaledCpu, addScaledForward, axpy, fillTensor } from "../../lib/ops/elementwise.ts";
import { assertAllClose, Rng } from "../_numeric.ts";
import { gpuTest, testGpu } from "../_gpu.ts";

Deno.test({
  name: "addScaled matches the CPU reference on awkward sizes",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const rng = new Rng(1);
    for (const n of [1, 7, 255, 257, 1000]) {
      const a = rng.floats(n);
      const b = rng.floats(n);
      const ta = createTensor(gpu, "a", [n], a);
      const tb = createTensor(gpu, "b", [n], b);
      const out = createTensor(gpu, "out", [n]);
      await runDispatches(gpu, [await addScaledForward(gpu, { out, a: ta, b: tb, alpha: 0.5, beta: -2 })]);
      // One multiply-add in float32 against float64: error within a few ulps of |result|.
      assertAllClose(await readTensor(out), addScaledCpu(a, b, 0.5, -2), { atol: 1e-6, rtol: 1e-6 });
      for (const t of [ta, tb, out]) t.destroy();
    }
  },
});

Deno.test({
  name: "fillTensor writes the value everywhere, over any previous content",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    for (const n of [1, 255, 257, 70000]) {
      const out = createTensor(gpu, "out", [n], new Rng(2).floats(n));
      await runDispatches(gpu, [await fillTensor(gpu, { out, value: -1.5 })]);
      // A store of a representable constant is exact.
      assertAllClose(await readTensor(out), new Float64Array(n).fill(-1.5), { atol: 0, rtol: 0 });
      out.destroy();
    }
  },
});

Deno.test({
  name: "axpy adds in place, and with beta 0 overwrites without reading (NaN contents do not leak)",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const rng = new Rng(3);
    for (const n of [1, 300, 70001]) {
      const x = rng.floats(n);
      const y0 = rng.floats(n);
      const tx = createTensor(gpu, "x", [n], x);
      const ty = createTensor(gpu, "y", [n], y0);
      await runDispatches(gpu, [await axpy(gpu, { y: ty, x: tx, alpha: 0.5, beta: 2 })]);
      // One multiply-add in float32: within a few ulps.
      assertAllClose(await readTensor(ty), addScaledCpu(x, y0, 0.5, 2), { atol: 1e-6, rtol: 1e-6 });
      await runDispatches(gpu, [await fillTensor(gpu, { out: ty, value: NaN })]);
      await runDispatches(gpu, [await axpy(gpu, { y: ty, x: tx, alpha: 0.25, beta: 0 })]);
      assertAllClose(await readTensor(ty), addScaledCpu(x, x, 0.25, 0), { atol: 1e-7, rtol: 1e-7 });
      tx.destroy();
      ty.destroy();
    }
  },
});

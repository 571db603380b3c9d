import { deepStrictEqual as assertEquals, rejects } from "node:assert/strict";
import type { Gpu } from "../../lib/gpu/device.ts";
import { runDispatches } from "../../lib/gpu/kernel.ts";
import { createTensor, readTensor, readTensorU32 } from "../../lib/gpu/tensor.ts";
import { gradNorm, gradNormCpu } from "../../lib/ops/grad_norm.ts";
import { assertAllClose, Rng } from "../_numeric.ts";
import { gpuTest, testGpu } from "../_gpu.ts";

/** Runs gradNorm on the GPU over `grads` and returns `out` as floats and as raw bits. */
async function runGradNorm(
  gpu: Gpu,
  grads: Float32Array<ArrayBuffer>[],
  maxNorm: number,
  tensorsPerDispatch?: number,
  threads?: number,
): Promise<{ out: Float32Array; bits: Uint32Array }> {
  const tensors = grads.map((g, k) => createTensor(gpu, `grad${k}`, [g.length], g));
  const out = createTensor(gpu, "out", [2]);
  const args = { out, grads: tensors, maxNorm, threads, ...tensorsPerDispatch ? { tensorsPerDispatch } : {} };
  await runDispatches(gpu, await gradNorm(gpu, args));
  const result = { out: await readTensor(out), bits: await readTensorU32(out) };
  for (const t of [...tensors, out]) t.destroy();
  return result;
}

// Sizes below, at and above one workgroup (256), above one workgroup's 2048-value share, an empty
// tensor, and one past the 1024-workgroup cap (2,200,000 > 1024·2048) so grid striding is exercised.
const SIZES = [1, 7, 0, 255, 257, 1000, 2048 * 3 + 5, 2_200_000];

// A float32 sum of squares of positive terms, in short strided per-thread sums and then trees, has a
// relative error of a few ulps (2⁻²⁴ ≈ 6e-8 each) per level; measured ≤ 3e-8 on the norm at these sizes.
// The coefficient inherits the norm's relative error. 5e-7 is about 8 ulps.
const NORM_TOL = { atol: 0, rtol: 5e-7 };

Deno.test({
  name: "gradNorm matches the CPU reference over tensors of different sizes",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const rng = new Rng(21);
    const grads = SIZES.map((n) => rng.floats(n, -0.05, 0.05));
    const expected = gradNormCpu(grads, 1);
    // Uniform(−0.05, 0.05) has variance 0.05²/3, so the norm is ≈ 0.029·sqrt(2.2e6) ≈ 43: clipped.
    assertEquals(expected[1]! < 0.1, true);
    // The device's own width (8 on a CPU adapter) and a GPU's 256, so both paths are checked here.
    for (const threads of [undefined, 256]) {
      for (const maxNorm of [1, 1e6, Infinity]) {
        const { out } = await runGradNorm(gpu, grads, maxNorm, undefined, threads);
        assertAllClose(
          out,
          gradNormCpu(grads, maxNorm),
          NORM_TOL,
          `gradNorm maxNorm=${maxNorm}, ${threads} threads`,
        );
      }
    }
  },
});

Deno.test({
  name: "gradNorm of a small unclipped set gives coefficient exactly 1",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const rng = new Rng(22);
    const grads = [rng.floats(3, -0.1, 0.1), rng.floats(300, -0.01, 0.01)];
    const { out } = await runGradNorm(gpu, grads, 1);
    assertAllClose([out[0]!], [gradNormCpu(grads, 1)[0]!], NORM_TOL, "norm");
    assertEquals(out[1], 1);
  },
});

Deno.test({
  name: "gradNorm with no gradients gives norm 0 and coefficient 1",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const { out } = await runGradNorm(gpu, [], 1);
    assertEquals(Array.from(out), [0, 1]);
  },
});

Deno.test({
  name: "gradNorm gives identical bits on two runs",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const rng = new Rng(23);
    const grads = [rng.floats(300_000), rng.floats(1001), rng.floats(5)];
    const first = await runGradNorm(gpu, grads, 1);
    const second = await runGradNorm(gpu, grads, 1);
    assertEquals(first.bits, second.bits);
  },
});

Deno.test({
  name: "gradNorm gives the same bits with one gradient per dispatch as with small ones grouped",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const rng = new Rng(24);
    // Small gradients (≤ 8192 values) share a dispatch, with large ones (own dispatches) between them,
    // so a group's partial-sum regions are not contiguous; an empty one has no region at all.
    const sizes = [5, 300_000, 7, 1001, 0, 8192, 9000, 3, 2048 * 2 + 1];
    const grads = sizes.map((n) => rng.floats(n, -1, 1));
    const alone = await runGradNorm(gpu, grads, 1, 1);
    for (const perDispatch of [2, undefined]) {
      assertEquals((await runGradNorm(gpu, grads, 1, perDispatch)).bits, alone.bits);
    }
    assertAllClose(alone.out, gradNormCpu(grads, 1), NORM_TOL, "gradNorm");
  },
});

Deno.test({
  name: "gradNorm rejects a wrong output size and a non-positive maxNorm",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const grad = createTensor(gpu, "grad", [4]);
    const out = createTensor(gpu, "normOut", [3]);
    await rejects(gradNorm(gpu, { out, grads: [grad], maxNorm: 1 }), {
      name: "RangeError",
      message: /"normOut"/,
    });
    await rejects(gradNorm(gpu, { out: grad, grads: [grad], maxNorm: 1 }), { name: "RangeError" });
    const pair = createTensor(gpu, "pair", [2]);
    await rejects(gradNorm(gpu, { out: pair, grads: [grad], maxNorm: 0 }), {
      name: "RangeError",
      message: /norm 0/,
    });
    for (const t of [grad, out, pair]) t.destroy();
  },
});

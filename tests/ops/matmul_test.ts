import { deepStrictEqual, rejects } from "node:assert/strict";
import type { Gpu } from "../../lib/gpu/device.ts";
import { runDispatches } from "../../lib/gpu/kernel.ts";
import { ScratchPool } from "../../lib/gpu/scratch.ts";
import { createTensor, readTensor } from "../../lib/gpu/tensor.ts";
import {
  linearBackward,
  linearBackwardCpu,
  linearForward,
  linearForwardCpu,
  matmul,
  matmulCpu,
  type MatmulLayout,
  type MatmulTiling,
} from "../../lib/ops/matmul.ts";
import { assertAllClose, dot, numericGradient, randomF64, Rng } from "../_numeric.ts";
import { gpuTest, testGpu } from "../_gpu.ts";

const LAYOUTS: readonly MatmulLayout[] = ["nt", "nn", "tn"];

// Inputs are uniform in [-1, 1], so every product is at most 1 and a sum of k of them has partial sums of
// a few units. float32 rounds each of the ~k additions by ≤ 6e-8 of the partial sum; summed as a random
// walk that stays well under 1e-5·sqrt(k) (k = 129: 1.1e-4, against a worst case 129·6e-8·4 = 3e-5).
function tolerance(k: number) {
  return { atol: 1e-5 * Math.sqrt(Math.max(k, 1)), rtol: 1e-6 };
}

/** Options of {@link gpuMatmul}. */
interface RunOptions {
  batch?: number;
  alpha?: number;
  /** Initial out, added into (accumulate) when given. */
  initial?: Float32Array<ArrayBuffer>;
  /** Tile and workgroup size instead of the default for this device. */
  tiling?: MatmulTiling;
}

/** Runs one matmul on the GPU from CPU arrays and reads out back. */
async function gpuMatmul(
  gpu: Gpu,
  a: Float32Array<ArrayBuffer>,
  b: Float32Array<ArrayBuffer>,
  layout: MatmulLayout,
  [m, n, k]: readonly number[],
  options: RunOptions = {},
): Promise<Float32Array> {
  const batch = options.batch ?? 1;
  const ta = createTensor(gpu, "a", [a.length], a);
  const tb = createTensor(gpu, "b", [b.length], b);
  const out = createTensor(gpu, "out", [batch * m! * n!], options.initial);
  const plan = await matmul(gpu, {
    out,
    a: ta,
    b: tb,
    layout,
    m: m!,
    n: n!,
    k: k!,
    batch,
    alpha: options.alpha ?? 1,
    accumulate: options.initial !== undefined,
    tiling: options.tiling,
  });
  await runDispatches(gpu, plan);
  const result = await readTensor(out);
  for (const t of [ta, tb, out]) t.destroy();
  return result;
}

// (m, n, k): ones, primes around the 4/8/16/32 tiles and the workgroup, odd and aligned mixes (vec4
// path when k, and for "nn"/"tn" also n or m, are multiples of 4), and sizes that pick 32×32 tiles.
const SHAPES = [
  [1, 1, 1],
  [3, 17, 5],
  [17, 3, 63],
  [1, 65, 12],
  [65, 33, 129],
  [33, 20, 12],
  [127, 129, 3],
  [64, 68, 32],
  [129, 36, 8],
  [256, 160, 20],
];

Deno.test({
  name: "matmul matches the CPU reference for every layout on awkward shapes",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const rng = new Rng(7);
    for (const layout of LAYOUTS) {
      for (const [m, n, k] of SHAPES) {
        const a = rng.floats(m! * k!);
        const b = rng.floats(n! * k!);
        const got = await gpuMatmul(gpu, a, b, layout, [m!, n!, k!]);
        assertAllClose(got, matmulCpu(a, b, layout, m!, n!, k!), tolerance(k!), `${layout} ${m}×${n}×${k}`);
      }
    }
  },
});

Deno.test({
  name: "skinny outputs (LoRA's rank-r products) take the tall CPU tiles and match the CPU reference",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const rng = new Rng(11);
    // n = 8 and 4 pick 16×8 / 16×4 tiles on a software adapter; an unaligned one takes the scalar kernel.
    for (const [m, n, k] of [[512, 8, 12], [516, 4, 8], [257, 3, 9]]) {
      for (const layout of LAYOUTS) {
        const a = rng.floats(m! * k!);
        const b = rng.floats(n! * k!);
        const got = await gpuMatmul(gpu, a, b, layout, [m!, n!, k!]);
        assertAllClose(got, matmulCpu(a, b, layout, m!, n!, k!), tolerance(k!), `${layout} ${m}×${n}×${k}`);
      }
    }
  },
});

Deno.test({
  name: "matmul multiplies every batch item with its own matrices",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const rng = new Rng(8);
    // Aligned (vec4, and the "tn" transpose pre-pass) and unaligned shapes.
    for (const [m, n, k, batch] of [[8, 12, 16, 3], [5, 9, 7, 4], [40, 36, 64, 2]]) {
      for (const layout of LAYOUTS) {
        const a = rng.floats(batch! * m! * k!);
        const b = rng.floats(batch! * n! * k!);
        const got = await gpuMatmul(gpu, a, b, layout, [m!, n!, k!], { batch: batch! });
        const expected = matmulCpu(a, b, layout, m!, n!, k!, batch!);
        assertAllClose(got, expected, tolerance(k!), `${layout} ${batch}×(${m}×${n}×${k})`);
      }
    }
  },
});

Deno.test({
  name: "matmul is correct with the real-GPU tiling (4×4, 64 threads) and other explicit tiles",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const rng = new Rng(14);
    const tilings = [{ tm: 4, tn: 4, wg: 64 }, { tm: 8, tn: 12, wg: 8 }, { tm: 12, tn: 4, wg: 32 }];
    for (const tiling of tilings) {
      for (const layout of LAYOUTS) {
        for (const [m, n, k] of [[37, 29, 13], [40, 24, 16]]) {
          const a = rng.floats(2 * m! * k!);
          const b = rng.floats(2 * n! * k!);
          const got = await gpuMatmul(gpu, a, b, layout, [m!, n!, k!], { batch: 2, tiling });
          const expected = matmulCpu(a, b, layout, m!, n!, k!, 2);
          assertAllClose(
            got,
            expected,
            tolerance(k!),
            `${layout} ${m}×${n}×${k} tile ${tiling.tm}×${tiling.tn}`,
          );
        }
      }
    }
  },
});

Deno.test({
  name: "matmul scales by alpha and accumulates into out",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const rng = new Rng(9);
    for (const layout of LAYOUTS) {
      for (const [m, n, k] of [[9, 13, 11], [32, 48, 24]]) {
        const a = rng.floats(m! * k!);
        const b = rng.floats(n! * k!);
        const initial = rng.floats(m! * n!);
        const got = await gpuMatmul(gpu, a, b, layout, [m!, n!, k!], { alpha: -0.75, initial });
        const product = matmulCpu(a, b, layout, m!, n!, k!);
        const expected = product.map((p, i) => initial[i]! - 0.75 * p);
        assertAllClose(got, expected, tolerance(k!), `${layout} ${m}×${n}×${k} accumulate`);
        const scaled = await gpuMatmul(gpu, a, b, layout, [m!, n!, k!], { alpha: 2 });
        assertAllClose(scaled, product.map((p) => 2 * p), tolerance(k!), `${layout} alpha 2`);
      }
    }
  },
});

Deno.test({
  name: "matmul with k = 0 writes zeros, or leaves out unchanged when accumulating",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const empty = new Float32Array(0);
    const initial = new Rng(10).floats(5 * 6);
    for (const layout of LAYOUTS) {
      deepStrictEqual([...await gpuMatmul(gpu, empty, empty, layout, [5, 6, 0])], new Array(30).fill(0));
      deepStrictEqual(await gpuMatmul(gpu, empty, empty, layout, [5, 6, 0], { initial }), initial);
    }
  },
});

Deno.test({
  name: "matmul is deterministic: the same inputs give the same bits",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const rng = new Rng(11);
    for (const layout of LAYOUTS) {
      const a = rng.floats(96 * 72);
      const b = rng.floats(80 * 72);
      const first = await gpuMatmul(gpu, a, b, layout, [96, 80, 72]);
      deepStrictEqual(await gpuMatmul(gpu, a, b, layout, [96, 80, 72]), first);
    }
  },
});

Deno.test({
  name: "matmul rejects tensors that do not match the shape, naming them",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const a = createTensor(gpu, "weights", [12]);
    const b = createTensor(gpu, "b", [12]);
    const out = createTensor(gpu, "out", [9]);
    await rejects(() => matmul(gpu, { out, a, b, layout: "nt", m: 3, n: 3, k: 5 }), {
      name: "RangeError",
      message: /tensor "weights"/,
    });
    await rejects(() => matmul(gpu, { out, a, b, layout: "nt", m: 3, n: 3, k: 4.5 }), {
      name: "RangeError",
      message: /k is 4\.5/,
    });
    const tiling = { tm: 6, tn: 4, wg: 8 };
    await rejects(() => matmul(gpu, { out, a, b, layout: "nt", m: 3, n: 3, k: 4, tiling }), {
      name: "RangeError",
      message: /tile 6×4/,
    });
    for (const t of [a, b, out]) t.destroy();
  },
});

Deno.test({
  name: "linearForward and linearBackward match the CPU references, overwriting or accumulating",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const rng = new Rng(12);
    // The "tn" transpose buffer of dW comes from a pool, as a model shares it across layers.
    const scratch = new ScratchPool(gpu);
    for (const [rows, inFeatures, outFeatures] of [[9, 7, 5], [33, 12, 20], [64, 32, 48]]) {
      const shape = { rows: rows!, inFeatures: inFeatures!, outFeatures: outFeatures! };
      const [x, w, dy] = [rows! * inFeatures!, outFeatures! * inFeatures!, rows! * outFeatures!].map((n) =>
        rng.floats(n)
      );
      const seed = rng.floats(rows! * inFeatures!);
      const tx = createTensor(gpu, "x", [x!.length], x);
      const tw = createTensor(gpu, "w", [w!.length], w);
      const tdy = createTensor(gpu, "dy", [dy!.length], dy);
      const y = createTensor(gpu, "y", [rows! * outFeatures!]);
      const dx = createTensor(gpu, "dx", [x!.length], seed);
      const dw = createTensor(gpu, "dw", [w!.length], rng.floats(w!.length));
      // dx accumulates into its seed; dw is overwritten (its random start must not show).
      await runDispatches(gpu, [
        ...await linearForward(gpu, { out: y, x: tx, w: tw, ...shape }),
        ...await linearBackward(gpu, {
          dx,
          dw,
          dy: tdy,
          x: tx,
          w: tw,
          ...shape,
          accumulateDx: true,
          scratch,
        }),
      ]);
      const expected = linearBackwardCpu({ dy: dy!, x: x!, w: w!, ...shape });
      assertAllClose(
        await readTensor(y),
        linearForwardCpu({ x: x!, w: w!, ...shape }),
        tolerance(inFeatures!),
      );
      assertAllClose(
        await readTensor(dx),
        expected.dx.map((v, i) => v + seed[i]!),
        tolerance(outFeatures!),
        "dx",
      );
      assertAllClose(await readTensor(dw), expected.dw, tolerance(rows!), "dw");
      // A frozen weight: only dx, overwritten.
      await runDispatches(gpu, await linearBackward(gpu, { dx, dy: tdy, x: tx, w: tw, ...shape }));
      assertAllClose(await readTensor(dx), expected.dx, tolerance(outFeatures!), "dx only");
      for (const t of [tx, tw, tdy, y, dx, dw]) t.destroy();
    }
    scratch.destroy();
  },
});

Deno.test("linearBackwardCpu matches central finite differences of Σ y·dy", () => {
  const rng = new Rng(13);
  const shape = { rows: 3, inFeatures: 4, outFeatures: 2 };
  const x = randomF64(rng, 12);
  const w = randomF64(rng, 8);
  const dy = randomF64(rng, 6);
  const loss = () => dot(linearForwardCpu({ x, w, ...shape }), dy);
  const { dx, dw } = linearBackwardCpu({ dy, x, w, ...shape });
  // The loss is bilinear, so central differences are exact up to float64 rounding of ~1e-16·|loss|/h.
  assertAllClose(dx, numericGradient(loss, x), { atol: 1e-8, rtol: 1e-8 }, "dx");
  assertAllClose(dw, numericGradient(loss, w), { atol: 1e-8, rtol: 1e-8 }, "dw");
});

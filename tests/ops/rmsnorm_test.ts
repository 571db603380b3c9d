import { deepStrictEqual, rejects, strictEqual } from "node:assert/strict";
import type { Gpu } from "../../lib/gpu/device.ts";
import { runDispatches } from "../../lib/gpu/kernel.ts";
import { createTensor, readTensor, type Tensor } from "../../lib/gpu/tensor.ts";
import {
  rmsnormBackward,
  rmsnormBackwardCpu,
  rmsnormForward,
  rmsnormForwardCpu,
} from "../../lib/ops/rmsnorm.ts";
import { assertAllClose, dot, numericGradient, randomF64, Rng } from "../_numeric.ts";
import { gpuTest, testGpu } from "../_gpu.ts";

const EPS = 1e-5;

/** (rows, dim): dims below, at and above the 64-thread row, rows around the 8-row backward group. */
const SHAPES: [number, number][] = [[1, 1], [3, 3], [5, 33], [67, 130], [9, 257], [13, 64]];

/** Random inputs of one case, float32 on the host. */
function makeCase(rng: Rng, rows: number, dim: number) {
  return {
    x: rng.floats(rows * dim, -2, 2),
    weight: rng.floats(dim, 0.5, 1.5),
    dout: rng.floats(rows * dim),
  };
}

/** Runs forward and backward on the GPU, returning everything read back. */
async function runGpu(
  gpu: Gpu,
  c: ReturnType<typeof makeCase>,
  rows: number,
  dim: number,
  dxInit?: Float32Array<ArrayBuffer>,
  threads?: number,
) {
  const x = createTensor(gpu, "x", [rows, dim], c.x);
  const weight = createTensor(gpu, "weight", [dim], c.weight);
  const dout = createTensor(gpu, "dout", [rows, dim], c.dout);
  const out = createTensor(gpu, "out", [rows, dim]);
  const rstd = createTensor(gpu, "rstd", [rows]);
  const dx = createTensor(gpu, "dx", [rows, dim], dxInit);
  const dweight = createTensor(gpu, "dweight", [dim]);
  const plan = [
    ...await rmsnormForward(gpu, { out, rstd, x, weight, rows, dim, eps: EPS, threads }),
    ...await rmsnormBackward(gpu, {
      dx,
      dweight,
      dout,
      x,
      weight,
      rstd,
      rows,
      dim,
      accumulateDx: dxInit !== undefined,
      threads,
    }),
  ];
  await runDispatches(gpu, plan);
  const result = {
    out: await readTensor(out),
    rstd: await readTensor(rstd),
    dx: await readTensor(dx),
    dweight: await readTensor(dweight),
  };
  for (const t of [x, weight, dout, out, rstd, dx, dweight]) t.destroy();
  return result;
}

Deno.test({
  name:
    "rmsnorm forward and backward match the CPU reference on awkward shapes, at this device's width and 64",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const rng = new Rng(11);
    // The device's own row width (8 on a CPU adapter) and a GPU's widest, so both paths are checked here.
    for (const [[rows, dim], threads] of SHAPES.flatMap((s) => [[s, undefined], [s, 64]] as const)) {
      const c = makeCase(rng, rows, dim);
      const got = await runGpu(gpu, c, rows, dim, undefined, threads);
      const ref = rmsnormForwardCpu({ x: c.x, weight: c.weight, rows, dim, eps: EPS });
      const grads = rmsnormBackwardCpu({ dout: c.dout, x: c.x, weight: c.weight, rstd: ref.rstd, rows, dim });
      const what = `(${rows}, ${dim}), ${threads ?? "default"} threads`;
      // A float32 sum of ≤ 257 squares and one rsqrt (≤ 2 ulp in WGSL): a few 1e-7 relative.
      assertAllClose(got.rstd, ref.rstd, { atol: 1e-6, rtol: 1e-5 }, `rstd ${what}`);
      assertAllClose(got.out, ref.out, { atol: 1e-6, rtol: 1e-5 }, `out ${what}`);
      // dx subtracts two O(1) terms, so its error is absolute: float32 dot of ≤ 257 terms, times rstd³.
      assertAllClose(got.dx, grads.dx, { atol: 2e-5, rtol: 1e-4 }, `dx ${what}`);
      // dweight sums `rows` float32 products: error grows with rows.
      assertAllClose(got.dweight, grads.dweight, { atol: 1e-6 * rows + 1e-6, rtol: 1e-5 }, `dweight ${what}`);
    }
  },
});

Deno.test({
  name: "rmsnorm backward accumulates dx, reduces many rows, and is deterministic",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const rng = new Rng(12);
    // 8200 rows make more than 1024 groups of 8, so each group takes more rows.
    for (const [rows, dim] of [[37, 33], [8200, 3]] as const) {
      const c = makeCase(rng, rows, dim);
      const dxInit = rng.floats(rows * dim);
      const first = await runGpu(gpu, c, rows, dim, dxInit);
      const ref = rmsnormForwardCpu({ x: c.x, weight: c.weight, rows, dim, eps: EPS });
      const grads = rmsnormBackwardCpu({ dout: c.dout, x: c.x, weight: c.weight, rstd: ref.rstd, rows, dim });
      const expectedDx = grads.dx.map((g, i) => g + dxInit[i]!);
      // As above; the prior dx is O(1), so the same absolute tolerance holds.
      assertAllClose(first.dx, expectedDx, { atol: 2e-5, rtol: 1e-4 }, `accumulated dx (${rows}, ${dim})`);
      assertAllClose(
        first.dweight,
        grads.dweight,
        { atol: 1e-6 * rows, rtol: 1e-5 },
        `dweight (${rows}, ${dim})`,
      );
      const second = await runGpu(gpu, c, rows, dim, dxInit);
      deepStrictEqual(new Uint32Array(second.dweight.buffer), new Uint32Array(first.dweight.buffer));
      deepStrictEqual(new Uint32Array(second.dx.buffer), new Uint32Array(first.dx.buffer));
    }
  },
});

Deno.test({
  name: "rmsnorm backward without dweight writes only dx",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const rng = new Rng(13);
    const [rows, dim] = [19, 130];
    const c = makeCase(rng, rows, dim);
    const ref = rmsnormForwardCpu({ x: c.x, weight: c.weight, rows, dim, eps: EPS });
    const grads = rmsnormBackwardCpu({ dout: c.dout, x: c.x, weight: c.weight, rstd: ref.rstd, rows, dim });
    const x = createTensor(gpu, "x", [rows, dim], c.x);
    const weight = createTensor(gpu, "weight", [dim], c.weight);
    const dout = createTensor(gpu, "dout", [rows, dim], c.dout);
    const rstd = createTensor(gpu, "rstd", [rows], new Float32Array(ref.rstd));
    const dx = createTensor(gpu, "dx", [rows, dim]);
    const plan = await rmsnormBackward(gpu, { dx, dout, x, weight, rstd, rows, dim });
    strictEqual(plan.length, 1);
    await runDispatches(gpu, plan);
    // Same bound as the dx check above.
    assertAllClose(await readTensor(dx), grads.dx, { atol: 2e-5, rtol: 1e-4 }, "dx");
    for (const t of [x, weight, dout, rstd, dx]) t.destroy();
  },
});

Deno.test("rmsnorm CPU backward matches central finite differences", () => {
  const rng = new Rng(14);
  for (const [rows, dim] of [[2, 4], [3, 1], [1, 5]] as const) {
    const x = randomF64(rng, rows * dim, -2, 2);
    const weight = randomF64(rng, dim, 0.5, 1.5);
    const dout = randomF64(rng, rows * dim);
    const loss = () => dot(rmsnormForwardCpu({ x, weight, rows, dim, eps: EPS }).out, dout);
    const { rstd } = rmsnormForwardCpu({ x, weight, rows, dim, eps: EPS });
    const grads = rmsnormBackwardCpu({ dout, x, weight, rstd, rows, dim });
    // Central differences with h = 1e-6 in float64: truncation O(h²) plus rounding ~1e-10 / h.
    assertAllClose(grads.dx, numericGradient(loss, x), { atol: 1e-7, rtol: 1e-6 }, `dx (${rows}, ${dim})`);
    assertAllClose(grads.dweight, numericGradient(loss, weight), { atol: 1e-7, rtol: 1e-6 }, "dweight");
  }
});

Deno.test({
  name: "rmsnorm rejects a tensor of the wrong size, naming it",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const tensors: Tensor[] = [];
    const make = (name: string, shape: number[]) => {
      const t = createTensor(gpu, name, shape);
      tensors.push(t);
      return t;
    };
    const args = {
      out: make("out", [4, 8]),
      rstd: make("rstd", [3]),
      x: make("x", [4, 8]),
      weight: make("weight", [8]),
      rows: 4,
      dim: 8,
      eps: EPS,
    };
    await rejects(rmsnormForward(gpu, args), { name: "RangeError", message: /tensor "rstd" has 3 values/ });
    for (const t of tensors) t.destroy();
  },
});

import { rejects } from "node:assert/strict";
import { runDispatches } from "../../lib/gpu/kernel.ts";
import { createTensor, readTensor } from "../../lib/gpu/tensor.ts";
import {
  ropeBackward,
  ropeBackwardCpu,
  ropeCosSin,
  ropeForward,
  ropeForwardCpu,
  type RopeShape,
} from "../../lib/ops/rope.ts";
import { assertAllClose, dot, numericGradient, randomF64, Rng } from "../_numeric.ts";
import { gpuTest, testGpu } from "../_gpu.ts";

/** Shapes: odd head counts, head sizes 2 (h = 1), 6 (f32 kernel), 8 and 32 (vec4f), an offset, a 10000-position table. */
const SHAPES: RopeShape[] = [
  { batch: 1, seqLen: 1, heads: 1, headDim: 2, theta: 10000 },
  { batch: 2, seqLen: 5, heads: 3, headDim: 6, theta: 10000 },
  { batch: 3, seqLen: 7, heads: 5, headDim: 8, theta: 500000 },
  { batch: 2, seqLen: 33, heads: 3, headDim: 32, theta: 10000, positionOffset: 17 },
  { batch: 1, seqLen: 130, heads: 1, headDim: 34, theta: 10000, positionOffset: 9870 },
];

Deno.test({
  name: "rope forward and backward match the CPU reference on awkward shapes",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const rng = new Rng(31);
    for (const shape of SHAPES) {
      const dims = [shape.batch, shape.seqLen, shape.heads, shape.headDim];
      const n = dims.reduce((a, b) => a * b);
      const xs = rng.floats(n, -2, 2);
      const douts = rng.floats(n);
      const x = createTensor(gpu, "x", dims, xs);
      const dout = createTensor(gpu, "dout", dims, douts);
      const out = createTensor(gpu, "out", dims);
      const dx = createTensor(gpu, "dx", dims);
      await runDispatches(gpu, [
        ...await ropeForward(gpu, { out, x, ...shape }),
        ...await ropeBackward(gpu, { dx, dout, ...shape }),
      ]);
      // Both sides use the same float32 angle table; the GPU adds two float32 products: ~2 ulp of |x|.
      const tol = { atol: 1e-6, rtol: 1e-6 };
      const what = JSON.stringify(shape);
      assertAllClose(await readTensor(out), ropeForwardCpu(xs, shape), tol, `out ${what}`);
      assertAllClose(await readTensor(dx), ropeBackwardCpu(douts, shape), tol, `dx ${what}`);
      for (const t of [x, dout, out, dx]) t.destroy();
    }
  },
});

Deno.test("rope CPU backward matches central finite differences", () => {
  const rng = new Rng(32);
  const shape = { batch: 2, seqLen: 3, heads: 1, headDim: 4, theta: 10000, positionOffset: 2 };
  const x = randomF64(rng, 24);
  const dout = randomF64(rng, 24);
  const loss = () => dot(ropeForwardCpu(x, shape), dout);
  // Central differences with h = 1e-6 in float64 on a linear map: only rounding, ~1e-10 / h.
  assertAllClose(ropeBackwardCpu(dout, shape), numericGradient(loss, x), { atol: 1e-8, rtol: 1e-7 }, "dx");
});

Deno.test("rope tables match the float32 tables PyTorch built for the golden MoRA vectors", async () => {
  const golden = JSON.parse(
    await Deno.readTextFile(new URL("../../testdata/golden/mora.json", import.meta.url)),
  );
  let checked = 0;
  for (const c of golden.cases) {
    for (const v of c.variants) {
      if (v.variant !== "6") continue;
      // MoRA type 6 rotates chunk j of width r_hat by angle j·θ: RoPE with position j and D = r_hat.
      const rHat: number = v.r_hat;
      const chunks: number = v.rope_cos.length;
      const { cos, sin } = ropeCosSin(chunks, rHat, 10000);
      const half = rHat / 2;
      // HF lays out [ang, ang]: both halves of each golden row hold our h values.
      const expand = (t: Float32Array) =>
        Array.from({ length: chunks * rHat }, (_, k) => t[Math.floor(k / rHat) * half + (k % rHat) % half]!);
      // Angles are bit-identical; PyTorch's vectorized cos is off by up to 1 float32 ulp (6e-8 below 1).
      const tol = { atol: 6e-8, rtol: 0 };
      assertAllClose(expand(cos), v.rope_cos.flat(), tol, `cos r_hat ${rHat}`);
      assertAllClose(expand(sin), v.rope_sin.flat(), tol, `sin r_hat ${rHat}`);
      checked++;
    }
  }
  if (checked === 0) throw new Error("No type 6 case in testdata/golden/mora.json");
});

Deno.test({
  name: "rope rejects odd head sizes and tensors of the wrong size",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const x = createTensor(gpu, "x", [2, 3, 5]);
    const out = createTensor(gpu, "out", [2, 3, 4]);
    const shape = { batch: 1, seqLen: 2, heads: 3, headDim: 5, theta: 10000 };
    await rejects(ropeForward(gpu, { out: x, x, ...shape }), { name: "RangeError", message: /headDim 5/ });
    await rejects(ropeForward(gpu, { out, x, ...shape, headDim: 4 }), {
      name: "RangeError",
      message: /tensor "x" has 30 values/,
    });
    for (const t of [x, out]) t.destroy();
  },
});

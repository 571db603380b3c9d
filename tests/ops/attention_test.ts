import { rejects, throws } from "node:assert/strict";
import { createTensor, readTensor, type Tensor } from "../../lib/gpu/tensor.ts";
import { runDispatches } from "../../lib/gpu/kernel.ts";
import type { Gpu } from "../../lib/gpu/device.ts";
import {
  attentionBackward,
  attentionBackwardCpu,
  type AttentionBackwardShape,
  attentionForward,
  attentionForwardCpu,
  type AttentionForwardShape,
} from "../../lib/ops/attention.ts";
import { assertAllClose, dot, numericGradient, randomF64, Rng } from "../_numeric.ts";
import { gpuTest, testGpu } from "../_gpu.ts";

// Awkward training shapes: seqLen 1 to 130 (not multiples of the 4 rows a thread owns nor of the
// 16-thread workgroup), headDim 1 to 256, vec4 (multiple of 4) and scalar variants, GQA groups of
// 1, 2, 3 and 4. (headDim 256 compiles for about 25 s on llvmpipe the first time; Mesa caches it.)
const TRAINING_SHAPES: AttentionBackwardShape[] = [
  { batch: 1, seqLen: 1, heads: 1, kvHeads: 1, headDim: 1 },
  { batch: 2, seqLen: 7, heads: 6, kvHeads: 2, headDim: 5 },
  { batch: 1, seqLen: 33, heads: 6, kvHeads: 3, headDim: 8 },
  { batch: 2, seqLen: 65, heads: 4, kvHeads: 1, headDim: 33 },
  { batch: 1, seqLen: 130, heads: 2, kvHeads: 2, headDim: 37 },
  { batch: 1, seqLen: 2, heads: 3, kvHeads: 1, headDim: 256, scale: 0.3 },
];

// Forward: a softmax-weighted mean of values in [-1, 1] and a logsumexp of scores up to ~6, from
// float32 dots of ≤ 256 terms and float32 exp/log. Observed max error 4e-7 (out) and 7e-7 (lse);
// 1e-5 leaves a 10× margin and still catches a wrong key, mask or weight (changes of ~1e-2).
const FORWARD_TOL = { atol: 1e-5, rtol: 1e-5 };
// Backward: sums over up to 130 queries × 3 heads of products of float32 dots, with cancellation in
// dP − D. Observed max error 2.6e-6 on gradients up to ~4; 2e-5 leaves an 8× margin, far below the
// ~1e-2 size of a single missing or misplaced term.
const BACKWARD_TOL = { atol: 2e-5, rtol: 2e-5 };

function forwardShapeOf(s: AttentionBackwardShape): AttentionForwardShape {
  return { ...s, queryLen: s.seqLen, keyLen: s.seqLen, keyCapacity: s.seqLen };
}

/** Random q, k, v (and dout) tensors for a forward shape; returns host copies too. */
function makeInputs(gpu: Gpu, rng: Rng, s: AttentionForwardShape) {
  const qSize = s.batch * s.queryLen * s.heads * s.headDim;
  const kvSize = s.batch * s.keyCapacity * s.kvHeads * s.headDim;
  // Scores of a few units (not near-uniform softmax): q, k in [-2, 2].
  const host = {
    q: rng.floats(qSize, -2, 2),
    k: rng.floats(kvSize, -2, 2),
    v: rng.floats(kvSize),
    dout: rng.floats(qSize),
  };
  const tensors = {
    q: createTensor(gpu, "q", [s.batch, s.queryLen, s.heads, s.headDim], host.q),
    k: createTensor(gpu, "k", [s.batch, s.keyCapacity, s.kvHeads, s.headDim], host.k),
    v: createTensor(gpu, "v", [s.batch, s.keyCapacity, s.kvHeads, s.headDim], host.v),
    dout: createTensor(gpu, "dout", [s.batch, s.queryLen, s.heads, s.headDim], host.dout),
    out: createTensor(gpu, "out", [s.batch, s.queryLen, s.heads, s.headDim]),
    lse: createTensor(gpu, "lse", [s.batch, s.heads, s.queryLen]),
  };
  return { host, tensors };
}

/** Runs forward then backward on the GPU; returns everything read back. */
async function runTraining(gpu: Gpu, s: AttentionBackwardShape, t: ReturnType<typeof makeInputs>["tensors"]) {
  const dq = createTensor(gpu, "dq", t.q.shape);
  const dk = createTensor(gpu, "dk", t.k.shape);
  const dv = createTensor(gpu, "dv", t.v.shape);
  const forward = await attentionForward(gpu, { ...t, ...forwardShapeOf(s) });
  const backward = await attentionBackward(gpu, { ...t, dq, dk, dv, ...s });
  await runDispatches(gpu, [...forward, ...backward]);
  const result = {
    out: await readTensor(t.out),
    lse: await readTensor(t.lse),
    dq: await readTensor(dq),
    dk: await readTensor(dk),
    dv: await readTensor(dv),
  };
  for (const x of [dq, dk, dv]) x.destroy();
  return result;
}

function destroyAll(tensors: Record<string, Tensor>): void {
  for (const t of Object.values(tensors)) t.destroy();
}

Deno.test({
  name: "attention forward and backward match the CPU on awkward GQA shapes",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const rng = new Rng(7);
    for (const s of TRAINING_SHAPES) {
      const what = JSON.stringify(s);
      const { host, tensors } = makeInputs(gpu, rng, forwardShapeOf(s));
      const gpuResult = await runTraining(gpu, s, tensors);
      const ref = attentionForwardCpu(host.q, host.k, host.v, forwardShapeOf(s));
      const grads = attentionBackwardCpu(host.dout, host.q, host.k, host.v, s);
      assertAllClose(gpuResult.out, ref.out, FORWARD_TOL, `out ${what}`);
      assertAllClose(gpuResult.lse, ref.lse, FORWARD_TOL, `lse ${what}`);
      assertAllClose(gpuResult.dq, grads.dq, BACKWARD_TOL, `dq ${what}`);
      assertAllClose(gpuResult.dk, grads.dk, BACKWARD_TOL, `dk ${what}`);
      assertAllClose(gpuResult.dv, grads.dv, BACKWARD_TOL, `dv ${what}`);
      destroyAll(tensors);
    }
  },
});

Deno.test({
  name: "attention forward with a KV cache matches the CPU and never reads past keyLen",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const rng = new Rng(11);
    const shapes: AttentionForwardShape[] = [
      { batch: 2, queryLen: 1, keyLen: 5, keyCapacity: 9, heads: 6, kvHeads: 2, headDim: 7 },
      { batch: 1, queryLen: 3, keyLen: 5, keyCapacity: 9, heads: 4, kvHeads: 1, headDim: 36 },
      { batch: 3, queryLen: 1, keyLen: 1, keyCapacity: 4, heads: 6, kvHeads: 3, headDim: 4 },
    ];
    for (const s of shapes) {
      const { host, tensors } = makeInputs(gpu, rng, s);
      // Poison the unused cache slots with NaN on the GPU only: any read of them would show up.
      const rowSize = s.kvHeads * s.headDim;
      const poison = (x: Float32Array) => {
        const copy = x.slice();
        for (let b = 0; b < s.batch; b++) {
          copy.fill(NaN, (b * s.keyCapacity + s.keyLen) * rowSize, (b + 1) * s.keyCapacity * rowSize);
        }
        return copy;
      };
      const k = createTensor(gpu, "k.poisoned", tensors.k.shape, poison(host.k));
      const v = createTensor(gpu, "v.poisoned", tensors.v.shape, poison(host.v));
      await runDispatches(gpu, await attentionForward(gpu, { ...tensors, k, v, ...s }));
      const ref = attentionForwardCpu(host.q, host.k, host.v, s);
      assertAllClose(await readTensor(tensors.out), ref.out, FORWARD_TOL, `out ${JSON.stringify(s)}`);
      assertAllClose(await readTensor(tensors.lse), ref.lse, FORWARD_TOL, `lse ${JSON.stringify(s)}`);
      destroyAll({ ...tensors, k, v });
    }
  },
});

Deno.test({
  name: "attention forward and backward are deterministic: two runs give identical bits",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const s = { batch: 2, seqLen: 65, heads: 6, kvHeads: 2, headDim: 40 };
    const { tensors } = makeInputs(gpu, new Rng(3), forwardShapeOf(s));
    const first = await runTraining(gpu, s, tensors);
    const second = await runTraining(gpu, s, tensors);
    for (const key of ["out", "lse", "dq", "dk", "dv"] as const) {
      const a = new Uint32Array(first[key].buffer);
      const b = new Uint32Array(second[key].buffer);
      // Exact equality: any tolerance would hide nondeterminism.
      assertAllClose(a, b, { atol: 0, rtol: 0 }, `${key} bits`);
    }
    destroyAll(tensors);
  },
});

Deno.test("attention CPU backward matches central finite differences", () => {
  const rng = new Rng(5);
  const shapes: AttentionBackwardShape[] = [
    { batch: 1, seqLen: 3, heads: 4, kvHeads: 2, headDim: 3 },
    { batch: 2, seqLen: 4, heads: 3, kvHeads: 1, headDim: 2, scale: 0.7 },
  ];
  for (const s of shapes) {
    const qSize = s.batch * s.seqLen * s.heads * s.headDim;
    const kvSize = s.batch * s.seqLen * s.kvHeads * s.headDim;
    const q = randomF64(rng, qSize, -2, 2);
    const k = randomF64(rng, kvSize, -2, 2);
    const v = randomF64(rng, kvSize);
    const dout = randomF64(rng, qSize);
    // Fake loss Σ out·dout, whose gradient w.r.t. out is dout.
    const loss = () => dot(attentionForwardCpu(q, k, v, forwardShapeOf(s)).out, dout);
    const grads = attentionBackwardCpu(dout, q, k, v, s);
    // Central differences with h = 1e-6 in float64: truncation ~h² and rounding ~1e-16/h ≈ 1e-10.
    const tol = { atol: 1e-7, rtol: 1e-6 };
    assertAllClose(grads.dq, numericGradient(loss, q), tol, "dq");
    assertAllClose(grads.dk, numericGradient(loss, k), tol, "dk");
    assertAllClose(grads.dv, numericGradient(loss, v), tol, "dv");
  }
});

Deno.test({
  name: "attention rejects kvHeads not dividing heads and mis-sized tensors",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const s = { batch: 1, queryLen: 2, keyLen: 2, keyCapacity: 2, heads: 4, kvHeads: 3, headDim: 2 };
    const { tensors } = makeInputs(gpu, new Rng(1), { ...s, kvHeads: 1 });
    await rejects(() => attentionForward(gpu, { ...tensors, ...s }), RangeError);
    await rejects(
      () => attentionForward(gpu, { ...tensors, ...s, kvHeads: 2 }),
      (e: Error) => e instanceof RangeError && e.message.includes('"k"'),
    );
    await rejects(() => attentionForward(gpu, { ...tensors, ...s, kvHeads: 1, keyLen: 1 }), RangeError);
    throws(() => attentionForwardCpu([], [], [], s), RangeError);
    throws(() => attentionForwardCpu([], [], [], { ...s, kvHeads: 1, headDim: 257 }), /exceeds 256/);
    destroyAll(tensors);
  },
});

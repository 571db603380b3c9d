import assert from "node:assert/strict";
import { runDispatches } from "../../lib/gpu/kernel.ts";
import { createTensor, readTensor, writeTensor } from "../../lib/gpu/tensor.ts";
import {
  applyDropout,
  checkDropoutRate,
  dropoutCpu,
  dropoutKeepsCpu,
  type DropoutMask,
  dropoutStream,
} from "../../lib/ops/dropout.ts";
import { addScaledCpu } from "../../lib/ops/elementwise.ts";
import { assertAllClose, Rng } from "../_numeric.ts";
import { gpuTest, testGpu } from "../_gpu.ts";

// One float32 multiply (and one add when accumulating) against float64: a few ulps of |result|.
const TOL = { atol: 1e-6, rtol: 1e-6 };
const STREAM = dropoutStream(7, "model.layers.0.mlp.up_proj");

/** Fraction of `n` Bernoulli(q) draws must be within 5 standard deviations of q. */
function assertRate(count: number, n: number, q: number, what: string): void {
  const sigma = Math.sqrt(n * q * (1 - q));
  assert.ok(
    Math.abs(count - n * q) <= 5 * sigma,
    `${what}: ${count} of ${n}, expected ${n * q} ± ${5 * sigma}`,
  );
}

Deno.test({
  name: "dropout: the GPU mask equals the CPU mask bit for bit, kept values are scaled by exactly 1/(1−p)",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const n = 5003;
    const step = createTensor(gpu, "step", [1], new Uint32Array([7]));
    const x = createTensor(gpu, "x", [n], new Float32Array(n).fill(1));
    const out = createTensor(gpu, "out", [n]);
    for (const p of [0.05, 0.3, 0.9]) {
      await runDispatches(gpu, [await applyDropout(gpu, { out, x, mask: { p, step, stream: STREAM } })]);
      const got = await readTensor(out);
      const keeps = dropoutKeepsCpu(p, STREAM, 7, n);
      const keep = Math.fround(1 / (1 - p));
      for (let i = 0; i < n; i++) {
        assert.equal(got[i], keeps[i] ? keep : 0, `p=${p}: element ${i}`);
      }
    }
    for (const t of [step, x, out]) t.destroy();
  },
});

Deno.test("dropout mask: keep rate 1−p, and independent across steps, layers and neighbours", () => {
  const n = 1 << 16;
  for (const p of [0.05, 0.5, 0.9]) {
    const a = dropoutKeepsCpu(p, STREAM, 3, n);
    const nextStep = dropoutKeepsCpu(p, STREAM, 4, n);
    const otherLayer = dropoutKeepsCpu(p, dropoutStream(7, "model.layers.0.mlp.gate_proj"), 3, n);
    const count = (f: (i: number) => boolean) => {
      let c = 0;
      for (let i = 0; i < n; i++) if (f(i)) c++;
      return c;
    };
    assertRate(count((i) => a[i] === 1), n, 1 - p, `p=${p} keep rate`);
    // Two independent masks drop the same element with probability p².
    assertRate(count((i) => !a[i] && !nextStep[i]), n, p * p, `p=${p} dropped at steps 3 and 4`);
    assertRate(count((i) => !a[i] && !otherLayer[i]), n, p * p, `p=${p} dropped in two layers`);
    assertRate(count((i) => i + 1 < n && !a[i] && !a[i + 1]), n - 1, p * p, `p=${p} dropped neighbours`);
  }
});

Deno.test({
  name: "dropout: D(x), x − D(x) and accumulation match the CPU reference; p = 0 is the identity",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const rng = new Rng(3);
    const n = 1000;
    const xs = rng.floats(n);
    const init = rng.floats(n);
    const step = createTensor(gpu, "step", [1], new Uint32Array([11]));
    const x = createTensor(gpu, "x", [n], xs);
    const out = createTensor(gpu, "out", [n]);
    const p = 0.2;
    const mask: DropoutMask = { p, step, stream: STREAM };
    for (const complement of [false, true]) {
      const expected = dropoutCpu(xs, p, STREAM, 11, complement);
      await runDispatches(gpu, [await applyDropout(gpu, { out, x, mask, complement })]);
      assertAllClose(await readTensor(out), expected, TOL, `complement ${complement}`);
      writeTensor(out, init);
      await runDispatches(gpu, [await applyDropout(gpu, { out, x, mask, complement, accumulate: true })]);
      assertAllClose(
        await readTensor(out),
        addScaledCpu(init, expected, 1, 1),
        TOL,
        `accumulate ${complement}`,
      );
    }
    // D(x) + (x − D(x)) = x: the complement uses the same mask.
    const sum = addScaledCpu(dropoutCpu(xs, p, STREAM, 11), dropoutCpu(xs, p, STREAM, 11, true), 1, 1);
    assertAllClose(sum, xs, { atol: 1e-12, rtol: 1e-12 }, "D(x) + complement");
    await runDispatches(gpu, [await applyDropout(gpu, { out, x, mask: { ...mask, p: 0 } })]);
    assert.deepEqual(await readTensor(out), xs, "p = 0 must return x bit for bit");
    for (const t of [step, x, out]) t.destroy();
  },
});

Deno.test({
  name: "dropout: a dispatch built once draws the step from the GPU; the backward of a step reuses its mask",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const rng = new Rng(4);
    const n = 777;
    const step = createTensor(gpu, "step", [1], new Uint32Array([1]));
    const mask: DropoutMask = { p: 0.5, step, stream: STREAM };
    const x = createTensor(gpu, "x", [n], rng.floats(n, 0.5, 1));
    const grad = createTensor(gpu, "grad", [n], rng.floats(n, 0.5, 1));
    const dropped = createTensor(gpu, "dropped", [n]);
    const droppedGrad = createTensor(gpu, "dropped_grad", [n]);
    const forward = await applyDropout(gpu, { out: dropped, x, mask });
    const backward = await applyDropout(gpu, { out: droppedGrad, x: grad, mask });
    const zeros = async (t: typeof x) => Array.from(await readTensor(t), (v) => v === 0);
    const patterns: boolean[][] = [];
    for (const s of [1, 2, 1]) {
      writeTensor(step, new Uint32Array([s]));
      await runDispatches(gpu, [forward, backward]);
      const [fw, bw] = [await zeros(dropped), await zeros(droppedGrad)];
      assert.deepEqual(bw, fw, `step ${s}: the gradient is masked like the input`);
      assert.deepEqual(fw, Array.from(dropoutKeepsCpu(0.5, STREAM, s, n), (k) => k === 0), `step ${s}`);
      patterns.push(fw);
    }
    assert.notDeepEqual(patterns[0], patterns[1], "steps 1 and 2 drew the same mask");
    assert.deepEqual(patterns[2], patterns[0], "step 1 again must draw step 1's mask");
    for (const t of [step, x, grad, dropped, droppedGrad]) t.destroy();
  },
});

Deno.test("dropout: rates outside [0, 1) get a clear error", () => {
  for (const p of [1, -0.1, Number.NaN, 1.5]) {
    assert.throws(() => checkDropoutRate(p, "lora_dropout"), /Cannot use lora_dropout .*\[0, 1\)/);
  }
  checkDropoutRate(0);
  checkDropoutRate(0.999);
});

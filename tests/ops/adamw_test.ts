import { deepStrictEqual as assertEquals, rejects, throws } from "node:assert/strict";
import type { Gpu } from "../../lib/gpu/device.ts";
import { runDispatches } from "../../lib/gpu/kernel.ts";
import { createTensor, readTensor, type Tensor, writeTensor } from "../../lib/gpu/tensor.ts";
import {
  ADAMW_HYPER_SIZE,
  adamwHyper,
  type AdamwHyperParams,
  adamwUpdate,
  adamwUpdateCpu,
} from "../../lib/ops/adamw.ts";
import { gradNorm, gradNormCpu } from "../../lib/ops/grad_norm.ts";
import { assertAllClose, Rng } from "../_numeric.ts";
import { gpuTest, testGpu } from "../_gpu.ts";

/** One parameter tensor on the GPU and its float64 mirror on the CPU. */
interface Slot {
  param: Tensor;
  m: Tensor;
  v: Tensor;
  grad: Tensor;
  cpu: { param: Float64Array; m: Float64Array; v: Float64Array };
}

function makeSlot(gpu: Gpu, rng: Rng, n: number, k: number): Slot {
  const init = rng.floats(n, -1, 1);
  return {
    param: createTensor(gpu, `param${k}`, [n], init),
    m: createTensor(gpu, `m${k}`, [n]),
    v: createTensor(gpu, `v${k}`, [n]),
    grad: createTensor(gpu, `grad${k}`, [n]),
    cpu: { param: Float64Array.from(init), m: new Float64Array(n), v: new Float64Array(n) },
  };
}

/** Options of {@link runSteps}. */
interface RunOptions {
  /** Tensor sizes. */
  sizes: number[];
  /** Hyperparameters of step t (1-based). */
  hyperAt: (t: number) => AdamwHyperParams;
  /** Clip threshold, or undefined to omit `clip` (no clipping). */
  maxNorm?: number;
  steps: number;
  seed: number;
}

/**
 * Builds gradNorm (when clipping) + one adamwUpdate per tensor once, then runs `steps` steps on the GPU
 * and on the CPU with the same random gradients and hyper values. Returns the slots and the clip
 * coefficients the GPU computed.
 */
async function runSteps(gpu: Gpu, options: RunOptions): Promise<{ slots: Slot[]; coefficients: number[] }> {
  const rng = new Rng(options.seed);
  const slots = options.sizes.map((n, k) => makeSlot(gpu, rng, n, k));
  const hyper = createTensor(gpu, "hyper", [ADAMW_HYPER_SIZE]);
  const norm = createTensor(gpu, "norm", [2]);
  const clipping = options.maxNorm !== undefined;
  const grads = slots.map((s) => s.grad);
  const dispatches = clipping ? await gradNorm(gpu, { out: norm, grads, maxNorm: options.maxNorm! }) : [];
  for (const s of slots) {
    const { param, m, v, grad } = s;
    const clip = clipping ? norm : undefined;
    dispatches.push(...await adamwUpdate(gpu, { param, m, v, grad, hyper, clip, n: param.size }));
  }
  const coefficients: number[] = [];
  for (let t = 1; t <= options.steps; t++) {
    const values = options.sizes.map((n) => rng.floats(n, -1, 1));
    slots.forEach((s, k) => writeTensor(s.grad, values[k]!));
    const h = adamwHyper(options.hyperAt(t));
    writeTensor(hyper, h);
    await runDispatches(gpu, dispatches);
    const coefficient = clipping ? gradNormCpu(values, options.maxNorm!)[1]! : 1;
    slots.forEach((s, k) => adamwUpdateCpu(s.cpu.param, s.cpu.m, s.cpu.v, values[k]!, h, coefficient));
    if (clipping) coefficients.push((await readTensor(norm))[1]!);
    // The optimizer reads the gradient but must leave it as written.
    for (const [k, s] of slots.entries()) assertEquals(await readTensor(s.grad), values[k]);
  }
  hyper.destroy();
  norm.destroy();
  return { slots, coefficients };
}

/**
 * Compares every slot with its CPU mirror, then frees it. `gradScale` bounds |g·clip| over all steps.
 */
async function assertSlotsMatch(slots: Slot[], gradScale: number, paramAtol: number): Promise<void> {
  // m is a signed sum of terms ≤ gradScale that can cancel, so its error is absolute: a few float32
  // roundings of terms of that size plus the clip coefficient's ~1e-7 relative error; 4 ulps of
  // gradScale (measured ≤ 6.4e-8·gradScale).
  const mTol = { atol: 2.5e-7 * gradScale, rtol: 0 };
  // v sums positive terms (no cancellation): a few roundings per step, relative (measured ≤ 3.3e-7).
  const vTol = { atol: 0, rtol: 1e-6 };
  for (const s of slots) {
    assertAllClose(await readTensor(s.m), s.cpu.m, mTol, `${s.param.name} m`);
    assertAllClose(await readTensor(s.v), s.cpu.v, vTol, `${s.param.name} v`);
    assertAllClose(await readTensor(s.param), s.cpu.param, { atol: paramAtol, rtol: 0 }, s.param.name);
    for (const t of [s.param, s.m, s.v, s.grad]) t.destroy();
  }
}

Deno.test({
  name: "adamwUpdate matches the CPU reference over 5 steps with weight decay, schedule and clipping",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const { slots, coefficients } = await runSteps(gpu, {
      sizes: [1, 7, 257, 1000],
      // A decaying learning rate: the trainer rewrites hyper every step.
      hyperAt: (step) => ({
        lr: 0.01 * (1 - 0.1 * step),
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weightDecay: 0.1,
        step,
      }),
      maxNorm: 0.5,
      steps: 5,
      seed: 31,
    });
    // Gradients of norm ≈ sqrt(1265/3) ≈ 20 against maxNorm 0.5: every step clips.
    assertEquals(coefficients.every((c) => c > 0 && c < 0.05), true);
    // |θ| ≤ ~1 accumulates ≤ 1 float32 rounding (6e-8) per operation per step, and each step's update
    // (≤ lr) carries the ~1e-6 relative error of m/denom: 5 steps stay below 1e-6 (measured ≤ 2.2e-7).
    await assertSlotsMatch(slots, Math.max(...coefficients), 1e-6);
  },
});

Deno.test({
  name: "adamwUpdate without clip or weight decay, with β1 < 0.5 (torch's other lerp branch)",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const { slots } = await runSteps(gpu, {
      sizes: [70, 3],
      hyperAt: (step) => ({ lr: 0.05, beta1: 0.3, beta2: 0.9, eps: 1e-6, weightDecay: 0, step }),
      steps: 3,
      seed: 32,
    });
    // As above with lr = 0.05 over 3 steps: roundings of θ dominate (measured ≤ 7e-8).
    await assertSlotsMatch(slots, 1, 5e-7);
  },
});

Deno.test("adamwUpdateCpu moves each parameter by lr·g/(|g| + eps) after decay under a constant gradient", () => {
  // With a constant gradient g, m_t = (1 − β1ᵗ)·g and v_t = (1 − β2ᵗ)·g², so the bias-corrected
  // moments are exactly g and g²: every step is θ ← θ(1 − lr·wd) − lr·g/(|g| + eps) (torch's order).
  const lr = 0.01;
  const wd = 0.1;
  const eps = 1e-8;
  const grad = [0.5, -2, 1e-3, 0];
  const param = new Float64Array([1, -1, 0.25, 3]);
  const expected = Float64Array.from(param);
  const m = new Float64Array(4);
  const v = new Float64Array(4);
  for (let step = 1; step <= 3; step++) {
    const hyper = [lr, 0.9, 0.999, eps, wd, 1 - 0.9 ** step, 1 - 0.999 ** step];
    adamwUpdateCpu(param, m, v, grad, hyper);
    grad.forEach((g, i) => expected[i] = expected[i]! * (1 - lr * wd) - lr * g / (Math.abs(g) + eps));
  }
  // Only float64 rounding separates the two (moments divided by their bias corrections).
  assertAllClose(param, expected, { atol: 1e-14, rtol: 0 }, "param");
});

Deno.test("adamwHyper lays out [lr, β1, β2, eps, wd, 1 − β1ᵗ, 1 − β2ᵗ] and rejects bad steps", () => {
  const h = { lr: 3e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step: 3 };
  assertEquals(adamwHyper(h), new Float32Array([3e-4, 0.9, 0.999, 1e-8, 0.01, 1 - 0.9 ** 3, 1 - 0.999 ** 3]));
  throws(() => adamwHyper({ ...h, step: 0 }), { name: "RangeError", message: /step 0/ });
  throws(() => adamwHyper({ ...h, beta2: 1 }), { name: "RangeError", message: /beta2 1/ });
});

Deno.test({
  name: "adamwUpdate rejects tensors of the wrong size, naming them",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const param = createTensor(gpu, "param", [5]);
    const small = createTensor(gpu, "small", [4]);
    const hyper = createTensor(gpu, "hyper", [ADAMW_HYPER_SIZE]);
    const base = { param, m: param, v: param, grad: param, hyper, n: 5 };
    const wrong = (expected: number) => ({
      name: "RangeError",
      message: new RegExp(`Cannot run AdamW: tensor "small" has 4 values, expected ${expected} for `),
    });
    await rejects(adamwUpdate(gpu, { ...base, v: small }), wrong(5));
    await rejects(adamwUpdate(gpu, { ...base, hyper: small }), wrong(ADAMW_HYPER_SIZE));
    await rejects(adamwUpdate(gpu, { ...base, clip: small }), wrong(2));
    for (const t of [param, small, hyper]) t.destroy();
  },
});

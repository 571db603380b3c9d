import { deepStrictEqual as assertEquals, rejects, throws } from "node:assert/strict";
import type { Gpu } from "../../lib/gpu/device.ts";
import { runDispatches } from "../../lib/gpu/kernel.ts";
import { createTensor, readTensor, readTensorU32, type Tensor, writeTensor } from "../../lib/gpu/tensor.ts";
import {
  ADAMW_HYPER_SIZE,
  adamwHyper,
  type AdamwHyperParams,
  adamwTensorsPerDispatch,
  adamwUpdate,
  adamwUpdateCpu,
  packMoments,
} from "../../lib/ops/adamw.ts";
import { gradNorm, gradNormCpu } from "../../lib/ops/grad_norm.ts";
import { assertAllClose, Rng } from "../_numeric.ts";
import { gpuTest, testGpu } from "../_gpu.ts";

/** One parameter tensor on the GPU (its moments in the shared arenas) and its float64 mirror on the CPU. */
interface Slot {
  param: Tensor;
  grad: Tensor;
  momentOffset: number;
  /** Its group (row of the hyper table). */
  group: number;
  cpu: { param: Float64Array; m: Float64Array; v: Float64Array };
}

/** Moment arenas and the slots whose moments they hold. */
interface Setup {
  slots: Slot[];
  m: Tensor;
  v: Tensor;
}

function makeSetup(gpu: Gpu, rng: Rng, sizes: readonly number[], groups: number): Setup {
  const { places, arenaSizes } = packMoments(sizes, Infinity);
  const slots = sizes.map((n, k) => {
    const init = rng.floats(n, -1, 1);
    return {
      param: createTensor(gpu, `param${k}`, [n], init),
      grad: createTensor(gpu, `grad${k}`, [n]),
      momentOffset: places[k]!.offset,
      group: k % groups,
      cpu: { param: Float64Array.from(init), m: new Float64Array(n), v: new Float64Array(n) },
    };
  });
  const size = arenaSizes[0] ?? 0;
  return { slots, m: createTensor(gpu, "m", [size]), v: createTensor(gpu, "v", [size]) };
}

/** Options of {@link runSteps}. */
interface RunOptions {
  /** Tensor sizes. */
  sizes: number[];
  /** Hyperparameters of group g at step t (1-based). */
  hyperAt: (t: number, group: number) => AdamwHyperParams;
  /** Number of groups (tensor k is in group k mod groups); default 1. */
  groups?: number;
  /** Clip threshold, or undefined to omit `clip` (no clipping). */
  maxNorm?: number;
  /** Most tensors per AdamW dispatch (default: the device's). */
  tensorsPerDispatch?: number;
  steps: number;
  seed: number;
}

/**
 * Builds gradNorm (when clipping) + the multi-tensor adamwUpdate once, then runs `steps` steps on the GPU
 * and on the CPU with the same random gradients and hyper values. Returns the setup and the clip
 * coefficients the GPU computed.
 */
async function runSteps(gpu: Gpu, options: RunOptions): Promise<Setup & { coefficients: number[] }> {
  const rng = new Rng(options.seed);
  const groups = options.groups ?? 1;
  const setup = makeSetup(gpu, rng, options.sizes, groups);
  const { slots } = setup;
  const hyper = createTensor(gpu, "hyper", [groups, ADAMW_HYPER_SIZE]);
  const norm = createTensor(gpu, "norm", [2]);
  const clipping = options.maxNorm !== undefined;
  const grads = slots.map((s) => s.grad);
  const dispatches = clipping ? await gradNorm(gpu, { out: norm, grads, maxNorm: options.maxNorm! }) : [];
  const tensors = slots.map((s) => ({ ...s, hyperOffset: s.group * ADAMW_HYPER_SIZE }));
  dispatches.push(
    ...await adamwUpdate(gpu, {
      tensors,
      m: setup.m,
      v: setup.v,
      hyper,
      ...clipping ? { clip: norm } : {},
      ...options.tensorsPerDispatch ? { tensorsPerDispatch: options.tensorsPerDispatch } : {},
    }),
  );
  const coefficients: number[] = [];
  for (let t = 1; t <= options.steps; t++) {
    const values = options.sizes.map((n) => rng.floats(n, -1, 1));
    slots.forEach((s, k) => values[k]!.length > 0 && writeTensor(s.grad, values[k]!));
    const rows = Array.from({ length: groups }, (_, g) => adamwHyper(options.hyperAt(t, g)));
    rows.forEach((row, g) => writeTensor(hyper, row, g * ADAMW_HYPER_SIZE));
    await runDispatches(gpu, dispatches);
    const coefficient = clipping ? gradNormCpu(values, options.maxNorm!)[1]! : 1;
    slots.forEach((s, k) =>
      adamwUpdateCpu(s.cpu.param, s.cpu.m, s.cpu.v, values[k]!, rows[s.group]!, coefficient)
    );
    if (clipping) coefficients.push((await readTensor(norm))[1]!);
    // The optimizer reads the gradient but must leave it as written.
    for (const [k, s] of slots.entries()) assertEquals(await readTensor(s.grad), values[k]);
  }
  hyper.destroy();
  norm.destroy();
  return { ...setup, coefficients };
}

/** Frees the setup's tensors. */
function destroySetup({ slots, m, v }: Setup): void {
  for (const t of [m, v, ...slots.flatMap((s) => [s.param, s.grad])]) t.destroy();
}

/**
 * Compares every slot with its CPU mirror, then frees the setup. `gradScale` bounds |g·clip| over all steps.
 */
async function assertSlotsMatch(setup: Setup, gradScale: number, paramAtol: number): Promise<void> {
  // m is a signed sum of terms ≤ gradScale that can cancel, so its error is absolute: a few float32
  // roundings of terms of that size plus the clip coefficient's ~1e-7 relative error; 4 ulps of
  // gradScale (measured ≤ 6.4e-8·gradScale).
  const mTol = { atol: 2.5e-7 * gradScale, rtol: 0 };
  // v sums positive terms (no cancellation): a few roundings per step, relative (measured ≤ 3.3e-7).
  const vTol = { atol: 0, rtol: 1e-6 };
  const [m, v] = [await readTensor(setup.m), await readTensor(setup.v)];
  for (const s of setup.slots) {
    const moments = (arena: Float32Array) => arena.subarray(s.momentOffset, s.momentOffset + s.param.size);
    assertAllClose(moments(m), s.cpu.m, mTol, `${s.param.name} m`);
    assertAllClose(moments(v), s.cpu.v, vTol, `${s.param.name} v`);
    assertAllClose(await readTensor(s.param), s.cpu.param, { atol: paramAtol, rtol: 0 }, s.param.name);
  }
  destroySetup(setup);
}

Deno.test({
  name: "adamwUpdate matches the CPU reference over 5 steps with weight decay, schedule and clipping",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    // Scalar and vec4 tensors, small ones sharing a dispatch and large ones alone (16385 > 65536 / 4).
    const { coefficients, ...setup } = await runSteps(gpu, {
      sizes: [1, 7, 257, 1000, 0, 16385, 16388, 12],
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
    // Gradients of norm ≈ sqrt(34050/3) ≈ 107 against maxNorm 0.5: every step clips.
    assertEquals(coefficients.every((c) => c > 0 && c < 0.05), true);
    // |θ| ≤ ~1 accumulates ≤ 1 float32 rounding (6e-8) per operation per step, and each step's update
    // (≤ lr) carries the ~1e-6 relative error of m/denom: 5 steps stay below 1e-6 (measured ≤ 2.2e-7).
    await assertSlotsMatch(setup, Math.max(...coefficients), 1e-6);
  },
});

Deno.test({
  name: "adamwUpdate without clip or weight decay, with β1 < 0.5 (torch's other lerp branch)",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const { coefficients: _, ...setup } = await runSteps(gpu, {
      sizes: [70, 3],
      hyperAt: (step) => ({ lr: 0.05, beta1: 0.3, beta2: 0.9, eps: 1e-6, weightDecay: 0, step }),
      steps: 3,
      seed: 32,
    });
    // As above with lr = 0.05 over 3 steps: roundings of θ dominate (measured ≤ 7e-8).
    await assertSlotsMatch(setup, 1, 5e-7);
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
  name: "adamwUpdate gives the same bits however the tensors are grouped into dispatches, with two groups",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    // LoRA+-like groups: every other tensor has 16× the learning rate and its own weight decay.
    const hyperAt = (step: number, group: number) => ({
      lr: group === 0 ? 1e-3 : 1.6e-2,
      beta1: 0.9,
      beta2: 0.999,
      eps: 1e-8,
      weightDecay: group === 0 ? 0.01 : 0,
      step,
    });
    const bits = async (tensorsPerDispatch: number) => {
      const { coefficients: _, ...setup } = await runSteps(gpu, {
        sizes: [3, 64, 1000, 5, 8, 300],
        hyperAt,
        groups: 2,
        maxNorm: 1,
        tensorsPerDispatch,
        steps: 3,
        seed: 33,
      });
      const out = [await readTensorU32(setup.m), await readTensorU32(setup.v)];
      for (const s of setup.slots) out.push(await readTensorU32(s.param));
      destroySetup(setup);
      return out;
    };
    assertEquals(await bits(1), await bits(16));
  },
});

Deno.test("packMoments aligns vec4-sized moments to 4 and starts a new arena when one is full", () => {
  assertEquals(packMoments([3, 8, 5, 4], 100), {
    places: [{ arena: 0, offset: 0 }, { arena: 0, offset: 4 }, { arena: 0, offset: 12 }, {
      arena: 0,
      offset: 20,
    }],
    arenaSizes: [24],
  });
  // 6 + 8 > 12 opens arena 1; a tensor larger than the limit still gets an arena of its own.
  assertEquals(packMoments([6, 8, 20, 0], 12), {
    places: [{ arena: 0, offset: 0 }, { arena: 1, offset: 0 }, { arena: 2, offset: 0 }, {
      arena: 2,
      offset: 20,
    }],
    arenaSizes: [6, 8, 20],
  });
});

Deno.test("adamwTensorsPerDispatch fits two bindings per tensor besides m, v, hyper and clip", () => {
  assertEquals(adamwTensorsPerDispatch({ maxStorageBuffersPerShaderStage: 8 }), 2);
  assertEquals(adamwTensorsPerDispatch({ maxStorageBuffersPerShaderStage: 32 }), 14);
  assertEquals(adamwTensorsPerDispatch({ maxStorageBuffersPerShaderStage: 1000 }), 16);
});

Deno.test({
  name: "adamwUpdate rejects tensors of the wrong size or offset, naming them",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const param = createTensor(gpu, "param", [5]);
    const small = createTensor(gpu, "small", [4]);
    const hyper = createTensor(gpu, "hyper", [ADAMW_HYPER_SIZE]);
    const tensor = { param, grad: param, momentOffset: 0, hyperOffset: 0 };
    const base = { tensors: [tensor], m: param, v: param, hyper };
    const wrong = (expected: number) => ({
      name: "RangeError",
      message: new RegExp(`Cannot run AdamW: tensor "small" has 4 values, expected ${expected} for `),
    });
    await rejects(adamwUpdate(gpu, { ...base, v: small }), wrong(5));
    await rejects(adamwUpdate(gpu, { ...base, tensors: [{ ...tensor, grad: small }] }), wrong(5));
    await rejects(adamwUpdate(gpu, { ...base, clip: small }), wrong(2));
    const misfit = (into: string) => ({
      name: "RangeError",
      message: new RegExp(`do not fit in tensor "${into}"`),
    });
    await rejects(adamwUpdate(gpu, { ...base, tensors: [{ ...tensor, momentOffset: 1 }] }), misfit("param"));
    await rejects(adamwUpdate(gpu, { ...base, tensors: [{ ...tensor, hyperOffset: 7 }] }), misfit("hyper"));
    for (const t of [param, small, hyper]) t.destroy();
  },
});

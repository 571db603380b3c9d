/**
 * RMSNorm with Hugging Face LLaMA semantics, `out = weight ⊙ (x · rsqrt(mean(x²) + eps))`, computed in
 * float32; forward, backward and their float64 CPU references.
 *
 * Forward caches `rstd` (rows) for the backward. Backward is two dispatches: one workgroup per group of
 * rows writes `dx` and partial sums of `dweight`, then one thread per column sums the partials in
 * order, so `dweight` is deterministic without float atomics.
 *
 * @module
 */

import forwardCode from "../../kernels/rmsnorm.wgsl" with { type: "text" };
import backwardCode from "../../kernels/rmsnorm_backward.wgsl" with { type: "text" };
import dweightCode from "../../kernels/rmsnorm_dweight.wgsl" with { type: "text" };
import type { Gpu } from "../gpu/device.ts";
import { type Dispatch, grid, makeDispatch } from "../gpu/kernel.ts";
import { scratchTensor, type Tensor } from "../gpu/tensor.ts";
import { specialize } from "../gpu/template.ts";
import { checkSizes } from "./check_sizes.ts";
import { workgroupSum } from "./pieces.ts";

const forwardTemplate = { file: "kernels/rmsnorm.wgsl", code: forwardCode, pieces: [workgroupSum] };
const backwardTemplate = {
  file: "kernels/rmsnorm_backward.wgsl",
  code: backwardCode,
  pieces: [workgroupSum],
};
const dweightKernel = specialize({ file: "kernels/rmsnorm_dweight.wgsl", code: dweightCode });

/**
 * Threads per row (the tree reduction's width, a power of two): on a GPU about 8 columns each, at most 64;
 * on a CPU adapter (llvmpipe, where every barrier switches all of a workgroup's 8-lane SIMD rows) one SIMD
 * row, 8: at (512 × 128) forward 0.55 ms against 0.76 for 16, backward 1.66 against 1.98; at (256 × 512)
 * 0.88 against 0.96 and 3.23 against 3.25 for 16 (the GPU rule's 64 is slower still); measured interleaved,
 * `benchmarks/reduction_width.ts`.
 */
function threadsPerRow(gpu: Gpu, dim: number): number {
  if (gpu.adapter.isFallbackAdapter) return 8;
  return Math.min(64, 2 ** Math.ceil(Math.log2(Math.ceil(dim / 8))));
}
/** Most partial-sum groups the backward makes; more rows make each group longer instead. */
const MAX_GROUPS = 1024;
/** Fewest rows one backward workgroup handles. */
const MIN_ROWS_PER_GROUP = 8;

/** Arguments of {@link rmsnormForward}. */
export interface RmsnormForwardArgs {
  /** Normalized output, (rows, dim). */
  out: Tensor;
  /** Reciprocal RMS of each row, (rows): the cache {@link rmsnormBackward} reads. */
  rstd: Tensor;
  /** Input, (rows, dim). */
  x: Tensor;
  /** Gain, (dim). */
  weight: Tensor;
  /** Number of rows (tokens). */
  rows: number;
  /** Row length (hidden size). */
  dim: number;
  /** Added to the mean square before the square root (HF `rms_norm_eps`). */
  eps: number;
  /** Threads per row (a power of two), for benchmarks; default picked per device. */
  threads?: number;
}

/** Arguments of {@link rmsnormBackward}. */
export interface RmsnormBackwardArgs {
  /** Gradient of the input, (rows, dim): overwritten, or added into when `accumulateDx`. */
  dx: Tensor;
  /** Gradient of the gain, (dim), always overwritten; omit it when the gain is frozen. */
  dweight?: Tensor;
  /** Gradient of the output, (rows, dim). */
  dout: Tensor;
  /** The forward's input, (rows, dim). */
  x: Tensor;
  /** Gain, (dim). */
  weight: Tensor;
  /** The forward's `rstd` cache, (rows). */
  rstd: Tensor;
  /** Number of rows. */
  rows: number;
  /** Row length. */
  dim: number;
  /** Add into `dx` instead of overwriting it (the residual stream's gradient). */
  accumulateDx?: boolean;
  /** Threads per row (a power of two), for benchmarks; default picked per device. */
  threads?: number;
}

/**
 * Builds the forward: one dispatch, one workgroup per row.
 *
 * @example Two rows whose RMS is 2 and 4
 * ```ts
 * import assert from "node:assert/strict";
 * import { requestGpu } from "../gpu/device.ts";
 * import { runDispatches } from "../gpu/kernel.ts";
 * import { createTensor, readTensor } from "../gpu/tensor.ts";
 * import { rmsnormForward } from "./rmsnorm.ts";
 *
 * const gpu = await requestGpu();
 * const x = createTensor(gpu, "x", [2, 4], new Float32Array([2, -2, 2, -2, 4, 4, -4, 4]));
 * const weight = createTensor(gpu, "weight", [4], new Float32Array([1, 2, 3, 4]));
 * const [out, rstd] = [createTensor(gpu, "out", [2, 4]), createTensor(gpu, "rstd", [2])];
 * await runDispatches(gpu, await rmsnormForward(gpu, { out, rstd, x, weight, rows: 2, dim: 4, eps: 0 }));
 * const close = (got: Float32Array, want: number[]) => got.every((v, i) => Math.abs(v - want[i]!) < 1e-6);
 * assert.ok(close(await readTensor(out), [1, -2, 3, -4, 1, 2, -3, 4]));
 * assert.ok(close(await readTensor(rstd), [0.5, 0.25]));
 * gpu.device.destroy();
 * ```
 */
export async function rmsnormForward(gpu: Gpu, args: RmsnormForwardArgs): Promise<Dispatch[]> {
  const { rows, dim } = args;
  const shape = `(rows ${rows}, dim ${dim})`;
  checkSizes("rmsnorm forward", shape, [
    [args.out, rows * dim],
    [args.x, rows * dim],
    [args.rstd, rows],
    [args.weight, dim],
  ]);
  return [
    await makeDispatch(
      gpu,
      specialize(forwardTemplate, { constants: { WG: args.threads ?? threadsPerRow(gpu, dim) } }),
      {
        params: { u32: [rows, dim], f32: [args.eps] },
        tensors: [args.x, args.weight, args.out, args.rstd],
        workgroups: grid(gpu, rows),
      },
    ),
  ];
}

/**
 * Builds the backward: `dx` (overwritten, or added into with `accumulateDx`) and `dweight` (always
 * overwritten; reduced over rows deterministically through a scratch tensor `rmsnorm.dweight_partials`).
 * Two dispatches, or one when `dweight` is omitted.
 *
 * @example Gradients of two rows of three, against the CPU reference
 * ```ts
 * import assert from "node:assert/strict";
 * import { requestGpu } from "../gpu/device.ts";
 * import { runDispatches } from "../gpu/kernel.ts";
 * import { createTensor, readTensor } from "../gpu/tensor.ts";
 * import { rmsnormBackward, rmsnormBackwardCpu, rmsnormForward, rmsnormForwardCpu } from "./rmsnorm.ts";
 *
 * const gpu = await requestGpu();
 * const shape = { rows: 2, dim: 3, eps: 1e-5 };
 * const data = { x: [1, -2, 3, 0.5, 0, -1], weight: [1, 0.5, 2], dout: [0.1, 0.2, -0.3, 1, -1, 0.5] };
 * const upload = (name: string, values: number[]) =>
 *   createTensor(gpu, name, [values.length], new Float32Array(values));
 * const [x, weight, dout] = [upload("x", data.x), upload("weight", data.weight), upload("dout", data.dout)];
 * const [out, rstd] = [createTensor(gpu, "out", [6]), createTensor(gpu, "rstd", [2])];
 * const [dx, dweight] = [createTensor(gpu, "dx", [6]), createTensor(gpu, "dweight", [3])];
 * await runDispatches(gpu, [
 *   ...await rmsnormForward(gpu, { out, rstd, x, weight, ...shape }),
 *   ...await rmsnormBackward(gpu, { dx, dweight, dout, x, weight, rstd, ...shape }),
 * ]);
 * const { rstd: rstdCpu } = rmsnormForwardCpu({ ...data, ...shape });
 * const want = rmsnormBackwardCpu({ ...data, rstd: rstdCpu, ...shape });
 * const close = (got: Float32Array, ref: Float64Array) => got.every((v, i) => Math.abs(v - ref[i]!) < 1e-5);
 * assert.ok(close(await readTensor(dx), want.dx));
 * assert.ok(close(await readTensor(dweight), want.dweight));
 * gpu.device.destroy();
 * ```
 */
export async function rmsnormBackward(gpu: Gpu, args: RmsnormBackwardArgs): Promise<Dispatch[]> {
  const { rows, dim, dweight } = args;
  const shape = `(rows ${rows}, dim ${dim})`;
  checkSizes("rmsnorm backward", shape, [
    [args.dx, rows * dim],
    [args.dout, rows * dim],
    [args.x, rows * dim],
    [args.rstd, rows],
    [args.weight, dim],
    ...(dweight ? [[dweight, dim] as const] : []),
  ]);
  const rowsPerGroup = Math.max(MIN_ROWS_PER_GROUP, Math.ceil(rows / MAX_GROUPS));
  const groups = Math.ceil(rows / rowsPerGroup);
  // Without dweight the kernel writes no partials, but binding 6 still needs a buffer.
  const partials = scratchTensor(gpu, "rmsnorm.dweight_partials", dweight ? [groups, dim] : [1]);
  const constants = {
    WG: args.threads ?? threadsPerRow(gpu, dim),
    ACCUMULATE_DX: args.accumulateDx ? 1 : 0,
    WITH_DWEIGHT: dweight ? 1 : 0,
  };
  const plan = [
    await makeDispatch(gpu, specialize(backwardTemplate, { constants }), {
      params: { u32: [rows, dim, rowsPerGroup] },
      tensors: [args.dout, args.x, args.weight, args.rstd, args.dx, partials],
      workgroups: grid(gpu, groups),
    }),
  ];
  if (dweight) {
    plan.push(
      await makeDispatch(gpu, dweightKernel, {
        params: { u32: [groups, dim] },
        tensors: [partials, dweight],
        workgroups: grid(gpu, Math.ceil(dim / 64)),
      }),
    );
  }
  return plan;
}

/** Inputs of {@link rmsnormForwardCpu}: the GPU arguments as plain arrays. */
export interface RmsnormForwardCpuArgs {
  /** Input, (rows, dim). */
  x: ArrayLike<number>;
  /** Gain, (dim). */
  weight: ArrayLike<number>;
  /** Number of rows. */
  rows: number;
  /** Row length. */
  dim: number;
  /** Added to the mean square. */
  eps: number;
}

/** CPU reference of {@link rmsnormForward} in float64: returns `out` (rows, dim) and `rstd` (rows). */
export function rmsnormForwardCpu(args: RmsnormForwardCpuArgs): { out: Float64Array; rstd: Float64Array } {
  const { x, weight, rows, dim } = args;
  const out = new Float64Array(rows * dim);
  const rstd = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const base = r * dim;
    let squares = 0;
    for (let i = 0; i < dim; i++) squares += x[base + i]! * x[base + i]!;
    const s = 1 / Math.sqrt(squares / dim + args.eps);
    rstd[r] = s;
    for (let i = 0; i < dim; i++) out[base + i] = weight[i]! * (x[base + i]! * s);
  }
  return { out, rstd };
}

/** Inputs of {@link rmsnormBackwardCpu}: the GPU arguments as plain arrays. */
export interface RmsnormBackwardCpuArgs {
  /** Gradient of the output, (rows, dim). */
  dout: ArrayLike<number>;
  /** The forward's input, (rows, dim). */
  x: ArrayLike<number>;
  /** Gain, (dim). */
  weight: ArrayLike<number>;
  /** The forward's `rstd`, (rows). */
  rstd: ArrayLike<number>;
  /** Number of rows. */
  rows: number;
  /** Row length. */
  dim: number;
}

/** CPU reference of {@link rmsnormBackward} in float64: returns `dx` (rows, dim) and `dweight` (dim). */
export function rmsnormBackwardCpu(
  args: RmsnormBackwardCpuArgs,
): { dx: Float64Array; dweight: Float64Array } {
  const { dout, x, weight, rstd, rows, dim } = args;
  const dx = new Float64Array(rows * dim);
  const dweight = new Float64Array(dim);
  for (let r = 0; r < rows; r++) {
    const base = r * dim;
    const s = rstd[r]!;
    let dot = 0;
    for (let i = 0; i < dim; i++) dot += dout[base + i]! * weight[i]! * x[base + i]!;
    const coef = dot * s * s * s / dim;
    for (let i = 0; i < dim; i++) {
      dx[base + i] = s * weight[i]! * dout[base + i]! - coef * x[base + i]!;
      dweight[i] = dweight[i]! + dout[base + i]! * x[base + i]! * s;
    }
  }
  return { dx, dweight };
}

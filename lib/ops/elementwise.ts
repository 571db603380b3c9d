/**
 * Elementwise add and scale: `y = α·a + β·b`. Forward and backward side by side, with the CPU
 * reference the tests use. Also a fill (`y = value`), for buffers that later ops add into, and an in-place
 * scaled add (`y = α·x + β·y`, gradient accumulation).
 *
 * Backward of `y = α·a + β·b`: `da = α·dy`, `db = β·dy`, which is the same kernel again.
 *
 * @module
 */

import code from "../../kernels/elementwise.wgsl" with { type: "text" };
import axpyCode from "../../kernels/axpy.wgsl" with { type: "text" };
import fillCode from "../../kernels/fill.wgsl" with { type: "text" };
import type { Gpu } from "../gpu/device.ts";
import { type Dispatch, grid, makeDispatch } from "../gpu/kernel.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { specialize } from "../gpu/template.ts";
import { checkSizes } from "./check_sizes.ts";

const kernel = specialize({ file: "kernels/elementwise.wgsl", code });
const fillKernel = specialize({ file: "kernels/fill.wgsl", code: fillCode });
const axpyKernel = specialize({ file: "kernels/axpy.wgsl", code: axpyCode });

/** Arguments of {@link addScaledForward}: `out = alpha·a + beta·b`, all of one size. */
export interface AddScaledArgs {
  /** Output (may alias neither input). */
  out: Tensor;
  /** First input. */
  a: Tensor;
  /** Second input (ignored when `beta` is 0, but must be bound). */
  b: Tensor;
  /** Factor of `a`. */
  alpha: number;
  /** Factor of `b`. */
  beta: number;
}

/** Builds the dispatch of `out = alpha·a + beta·b`. */
export function addScaledForward(gpu: Gpu, args: AddScaledArgs): Promise<Dispatch> {
  const n = args.out.size;
  checkSizes("add scaled", `out "${args.out.name}" (${n} values)`, [[args.a, n], [args.b, n]]);
  return makeDispatch(gpu, kernel, {
    params: { u32: [n], f32: [args.alpha, args.beta] },
    tensors: [args.a, args.b, args.out],
    workgroups: grid(gpu, Math.ceil(n / 256)),
  });
}

/** CPU reference of {@link addScaledForward}. */
export function addScaledCpu(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  alpha: number,
  beta: number,
): Float64Array {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = alpha * a[i]! + beta * b[i]!;
  return out;
}

/** Builds the dispatch of `out[i] = value` for every element (no backward: it has no inputs). */
export function fillTensor(gpu: Gpu, args: { out: Tensor; value: number }): Promise<Dispatch> {
  const n = args.out.size;
  return makeDispatch(gpu, fillKernel, {
    params: { u32: [n], f32: [args.value] },
    tensors: [args.out],
    workgroups: grid(gpu, Math.ceil(n / 256)),
  });
}

/** Builds the dispatch of `y = alpha·x + beta·y` in place (beta = 0: y is overwritten, never read). */
export function axpy(
  gpu: Gpu,
  args: { y: Tensor; x: Tensor; alpha: number; beta: number },
): Promise<Dispatch> {
  const n = args.y.size;
  checkSizes("axpy", `y "${args.y.name}" (${n} values)`, [[args.x, n]]);
  return makeDispatch(gpu, axpyKernel, {
    params: { u32: [n], f32: [args.alpha, args.beta] },
    tensors: [args.x, args.y],
    workgroups: grid(gpu, Math.ceil(n / 256)),
  });
}

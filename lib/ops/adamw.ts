/**
 * The AdamW update of one parameter tensor with `torch.optim.AdamW` semantics (decoupled weight decay,
 * bias correction), in the operation order of torch's single-tensor implementation, step t (1-based):
 *
 * ```
 * g ← g·clip                                   (clip_grad_norm_ coefficient, 1 without clipping)
 * θ ← θ·(1 − lr·wd)                            (param.mul_(1 - lr * weight_decay))
 * m ← m + (1 − β1)(g − m)                      (exp_avg.lerp_(grad, 1 - beta1))
 * v ← v·β2 + (1 − β2)·g²                       (exp_avg_sq.mul_(beta2).addcmul_(grad, grad, 1 - beta2))
 * θ ← θ − (lr / bc1) · m / (sqrt(v)/sqrt(bc2) + eps),  bc1 = 1 − β1ᵗ, bc2 = 1 − β2ᵗ
 * ```
 *
 * Everything that changes per step (the learning rate from the schedule, the bias corrections) lives in
 * the `hyper` storage tensor, which the trainer rewrites with `writeTensor(hyper, adamwHyper(...))`
 * before each step; the dispatch itself is built once.
 *
 * @module
 */

import code from "../../kernels/adamw.wgsl" with { type: "text" };
import type { Gpu } from "../gpu/device.ts";
import { type Dispatch, grid, makeDispatch } from "../gpu/kernel.ts";
import { createTensor, type Tensor } from "../gpu/tensor.ts";
import { checkSizes } from "./check_sizes.ts";

const kernel = { name: "adamw", code };

/** Number of values in a `hyper` tensor (see {@link adamwHyper} for the layout). */
export const ADAMW_HYPER_SIZE = 7;

/** AdamW hyperparameters of one parameter group at one step. */
export interface AdamwHyperParams {
  /** Learning rate of this step (schedule already applied). */
  lr: number;
  /** First-moment decay β1, in [0, 1). */
  beta1: number;
  /** Second-moment decay β2, in [0, 1). */
  beta2: number;
  /** Denominator epsilon. */
  eps: number;
  /** Decoupled weight decay factor (torch `weight_decay`). */
  weightDecay: number;
  /** 1-based step number of this parameter's optimizer state. */
  step: number;
}

/**
 * The `hyper` values of one step: `[lr, beta1, beta2, eps, weightDecay, 1 − β1ᵗ, 1 − β2ᵗ]`, the bias
 * corrections computed in float64 and then rounded to float32.
 *
 * @throws {RangeError} when the step is not a positive integer or a beta is outside [0, 1).
 */
export function adamwHyper(h: AdamwHyperParams): Float32Array<ArrayBuffer> {
  if (!Number.isInteger(h.step) || h.step < 1) {
    throw new RangeError(`Cannot build AdamW hyperparameters for step ${h.step}: steps count from 1`);
  }
  for (const [name, beta] of [["beta1", h.beta1], ["beta2", h.beta2]] as const) {
    if (!(beta >= 0 && beta < 1)) {
      throw new RangeError(`Cannot build AdamW hyperparameters with ${name} ${beta}: pass a value in [0, 1)`);
    }
  }
  const bc1 = 1 - h.beta1 ** h.step;
  const bc2 = 1 - h.beta2 ** h.step;
  return new Float32Array([h.lr, h.beta1, h.beta2, h.eps, h.weightDecay, bc1, bc2]);
}

/** Arguments of {@link adamwUpdate}. */
export interface AdamwUpdateArgs {
  /** Parameter (n), updated in place. */
  param: Tensor;
  /** First moment (n), updated in place; zeros before step 1. */
  m: Tensor;
  /** Second moment (n), updated in place; zeros before step 1. */
  v: Tensor;
  /** Gradient (n), read only. */
  grad: Tensor;
  /** Hyperparameters (7) as {@link adamwHyper} lays them out, rewritten by the trainer every step. */
  hyper: Tensor;
  /** The `gradNorm` output (2), whose element 1 scales the gradient; omit for no clipping. */
  clip?: Tensor;
  /** Number of values. */
  n: number;
}

const unitClips = new WeakMap<GPUDevice, Tensor>();

/** A shared `[0, 1]` tensor standing in for `clip` when there is no clipping (one per device). */
function unitClip(gpu: Gpu): Tensor {
  let clip = unitClips.get(gpu.device);
  if (!clip || clip.destroyed) {
    clip = createTensor(gpu, "adamw.unitClip", [2], new Float32Array([0, 1]));
    unitClips.set(gpu.device, clip);
  }
  return clip;
}

/**
 * Builds the one dispatch of the AdamW update of `param`, `m` and `v` (all in place). The gradient is
 * not modified.
 *
 * @throws {RangeError} naming the tensor whose size does not match `n` (or 7 for hyper, 2 for clip).
 */
export async function adamwUpdate(gpu: Gpu, args: AdamwUpdateArgs): Promise<Dispatch[]> {
  const { param, m, v, grad, hyper, n } = args;
  if (!Number.isInteger(n) || n < 0) {
    throw new RangeError(`Cannot update "${param.name}" with AdamW: n ${n} is not a size`);
  }
  const shape = `param, m, v, grad (n ${n}), hyper (${ADAMW_HYPER_SIZE}) and clip (2)`;
  checkSizes("AdamW", shape, [[param, n], [m, n], [v, n], [grad, n], [hyper, ADAMW_HYPER_SIZE]]);
  const clip = args.clip ?? unitClip(gpu);
  checkSizes("AdamW", shape, [[clip, 2]]);
  return [
    await makeDispatch(gpu, kernel, {
      params: { u32: [n] },
      tensors: [param, m, v, grad, hyper, clip],
      workgroups: grid(gpu, Math.ceil(n / 256)),
    }),
  ];
}

/**
 * CPU reference of {@link adamwUpdate} in float64, in place on `param`, `m`, `v`. `hyper` holds the
 * {@link adamwHyper} values; `clip` is the clip coefficient (1 for none).
 */
export function adamwUpdateCpu(
  param: Float64Array,
  m: Float64Array,
  v: Float64Array,
  grad: ArrayLike<number>,
  hyper: ArrayLike<number>,
  clip = 1,
): void {
  if (hyper.length !== ADAMW_HYPER_SIZE) {
    throw new RangeError(`Cannot run AdamW with ${hyper.length} hyper values: build them with adamwHyper`);
  }
  const [lr, beta1, beta2, eps, weightDecay, bc1, bc2] = Array.from(hyper, Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const stepSize = lr / bc1;
  const bc2Sqrt = Math.sqrt(bc2);
  for (let i = 0; i < param.length; i++) {
    const g = grad[i]! * clip;
    param[i] = param[i]! * (1 - lr * weightDecay);
    m[i] = m[i]! + (1 - beta1) * (g - m[i]!);
    v[i] = v[i]! * beta2 + (1 - beta2) * g * g;
    param[i] = param[i]! - stepSize * m[i]! / (Math.sqrt(v[i]!) / bc2Sqrt + eps);
  }
}

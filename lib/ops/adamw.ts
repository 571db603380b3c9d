/**
 * The AdamW update of parameter tensors with `torch.optim.AdamW` semantics (decoupled weight decay,
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
 * the `hyper` storage tensor, one row of 7 per parameter group, which the trainer rewrites with
 * `writeTensor(hyper, adamwHyper(...), row)` before each step; the dispatches themselves are built once.
 *
 * The moments of all tensors live in two arenas (`m`, `v`) at per-tensor offsets ({@link packMoments}
 * lays them out within the binding limit), while each parameter and gradient stays its own buffer. Small
 * tensors share a dispatch, bound side by side (a launch costs more than their update); each large one
 * has its own. Tensors whose sizes are multiples of 4 are updated as vec4 (four values per thread, the
 * same operations per value). Neither changes a bit of the result.
 *
 * @module
 */

import code from "../../kernels/adamw.wgsl" with { type: "text" };
import type { Gpu, GpuLimits } from "../gpu/device.ts";
import { type Dispatch, grid, type KernelSource, makeDispatch } from "../gpu/kernel.ts";
import { specialize } from "../gpu/template.ts";
import { createTensor, type Tensor } from "../gpu/tensor.ts";
import { checkSizes } from "./check_sizes.ts";

const template = { file: "kernels/adamw.wgsl", code };

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

/** Most tensors one dispatch updates, whatever the device binds (each adds a case to the kernel). */
const MAX_TENSORS_PER_DISPATCH = 16;
/**
 * Most values of a group of tensors updated by one dispatch. llvmpipe runs every case of the kernel's
 * switch for every thread (masked), so grouping costs a few loads per tensor per value while it saves a
 * launch: it pays for small tensors only (measured: 16384 and 65536 both pay on the reference and medium
 * configs, 65536 more for LoRA and MoRA's tensors of a few thousand values).
 */
const GROUP_VALUES = 65536;
/** Storage bindings of a dispatch besides the tensors' own: m, v, hyper and clip. */
const SHARED_BINDINGS = 4;

/** One parameter tensor of an {@link adamwUpdate}. */
export interface AdamwTensor {
  /** Parameter (n), updated in place. */
  param: Tensor;
  /** Gradient (n), read only. */
  grad: Tensor;
  /** Where its moments start in the `m` and `v` arenas (n values each). */
  momentOffset: number;
  /** Where its group's {@link adamwHyper} values start in `hyper`. */
  hyperOffset: number;
}

/** Arguments of {@link adamwUpdate}. */
export interface AdamwUpdateArgs {
  /** The tensors to update; empty ones are skipped. */
  tensors: readonly AdamwTensor[];
  /** First moments of every tensor (the arena `momentOffset` indexes), updated in place; zeros before step 1. */
  m: Tensor;
  /** Second moments, laid out as `m`, updated in place; zeros before step 1. */
  v: Tensor;
  /** Every group's 7 hyperparameters as {@link adamwHyper} lays them out, rewritten by the trainer every step. */
  hyper: Tensor;
  /** The `gradNorm` output (2), whose element 1 scales the gradient; omit for no clipping. */
  clip?: Tensor;
  /** Most tensors per dispatch (default: as many as the device binds, at most 16). */
  tensorsPerDispatch?: number;
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

/** Where one tensor's moments live: which arena, and the offset in it. */
export interface MomentPlace {
  /** Index of the arena. */
  arena: number;
  /** First value of the tensor's moments in the arena. */
  offset: number;
}

/**
 * Lays the moments of tensors of `sizes` out in arenas of at most `maxValues` values each (one storage
 * binding), in order: a tensor starts a new arena when it does not fit in the current one. Returns each
 * tensor's place and each arena's size.
 */
export function packMoments(
  sizes: readonly number[],
  maxValues: number,
): { places: MomentPlace[]; arenaSizes: number[] } {
  const places: MomentPlace[] = [];
  const arenaSizes: number[] = [];
  for (const n of sizes) {
    // Moments of a size divisible by 4 start at a multiple of 4, so that they can be read as vec4.
    const align = (size: number) => n % 4 === 0 ? Math.ceil(size / 4) * 4 : size;
    const used = arenaSizes.at(-1);
    const full = used === undefined || (n > 0 && used > 0 && align(used) + n > maxValues);
    if (full) arenaSizes.push(0);
    const arena = arenaSizes.length - 1;
    const offset = align(arenaSizes[arena]!);
    places.push({ arena, offset });
    arenaSizes[arena] = offset + n;
  }
  return { places, arenaSizes };
}

/** The most tensors one dispatch can bind on this device (two storage bindings each). */
export function adamwTensorsPerDispatch(limits: Pick<GpuLimits, "maxStorageBuffersPerShaderStage">): number {
  const fit = Math.floor((limits.maxStorageBuffersPerShaderStage - SHARED_BINDINGS) / 2);
  return Math.max(1, Math.min(MAX_TENSORS_PER_DISPATCH, fit));
}

/** The kernel for `count` tensors of `lanes` (1 or 4) values per thread, filled into kernels/adamw.wgsl. */
function adamwKernel(count: number, lanes: number): KernelSource {
  return specialize(template, { tensors: count, lanes }, ({ tensors }) => {
    const type = lanes === 4 ? "vec4f" : "f32";
    const ks = Array.from({ length: tensors }, (_, k) => k);
    const bindings = ks.flatMap((k) => [
      `@group(0) @binding(${
        SHARED_BINDINGS + 1 + 2 * k
      }) var<storage, read_write> param${k}: array<${type}>;`,
      `@group(0) @binding(${SHARED_BINDINGS + 2 + 2 * k}) var<storage, read> grad${k}: array<${type}>;`,
    ]);
    const loads = ks.map((k) => `case ${k}u: { param = param${k}[i]; grad = grad${k}[i]; }`);
    const stores = ks.map((k) => `case ${k}u: { param${k}[i] = theta; }`);
    const lines = (cases: string[]) => cases.join("\n");
    return {
      slots: {
        COUNT: tensors,
        VALUES: type,
        BINDINGS: lines(bindings),
        LOADS: lines(loads),
        STORES: lines(stores),
      },
    };
  });
}

/** Checks every tensor against the arenas and the hyper table, naming the first that does not fit. */
function checkAdamwArgs(args: AdamwUpdateArgs, clip: Tensor): void {
  const { m, v, hyper } = args;
  checkSizes("AdamW", "the moment arenas (m and v alike)", [[v, m.size]]);
  checkSizes("AdamW", "the clip pair [norm, coefficient]", [[clip, 2]]);
  for (const { param, grad, momentOffset, hyperOffset } of args.tensors) {
    checkSizes("AdamW", `parameter "${param.name}" (n ${param.size})`, [[grad, param.size]]);
    const offsets = [[momentOffset, param.size, m], [hyperOffset, ADAMW_HYPER_SIZE, hyper]] as const;
    for (const [offset, count, into] of offsets) {
      if (!Number.isInteger(offset) || offset < 0 || offset + count > into.size) {
        throw new RangeError(
          `Cannot update "${param.name}" with AdamW: ${count} values at offset ${offset} do not fit in ` +
            `tensor "${into.name}" of ${into.size}`,
        );
      }
    }
  }
}

/**
 * Builds the AdamW update of every tensor (parameters and moments in place, gradients read only): small
 * tensors in shared dispatches of up to {@link adamwTensorsPerDispatch}, large ones alone, each element
 * updated exactly as a single-tensor update would (the same operations in the same order), so the
 * grouping does not change any bit.
 *
 * @throws {RangeError} naming a tensor whose gradient size differs, or whose moments or group do not fit.
 */
export async function adamwUpdate(gpu: Gpu, args: AdamwUpdateArgs): Promise<Dispatch[]> {
  const clip = args.clip ?? unitClip(gpu);
  checkAdamwArgs(args, clip);
  const perDispatch = Math.min(adamwTensorsPerDispatch(gpu.limits), args.tensorsPerDispatch ?? Infinity);
  const dispatches: Promise<Dispatch>[] = [];
  for (const { lanes, tensors } of adamwGroups(args.tensors, perDispatch)) {
    const table: number[] = [];
    let workgroups = 0;
    for (const t of tensors) {
      table.push(t.param.size / lanes, workgroups, t.momentOffset / lanes, t.hyperOffset);
      workgroups += Math.ceil(t.param.size / lanes / 256);
    }
    dispatches.push(makeDispatch(gpu, adamwKernel(tensors.length, lanes), {
      params: { u32: table },
      tensors: [args.m, args.v, args.hyper, clip, ...tensors.flatMap((t) => [t.param, t.grad])],
      workgroups: grid(gpu, workgroups),
    }));
  }
  return await Promise.all(dispatches);
}

/** Values (1 or 4) each thread of a tensor's update handles: 4 when its size and moments allow vec4. */
function lanesOf(t: AdamwTensor): number {
  return t.param.size % 4 === 0 && t.momentOffset % 4 === 0 ? 4 : 1;
}

/**
 * The non-empty tensors in dispatch groups: a tensor of more than GROUP_VALUES / 4 values has a dispatch
 * of its own; smaller ones of the same lanes share one while it holds at most GROUP_VALUES values and
 * `perDispatch` tensors. (Each value's update is independent of the others, so the order is free.)
 */
function adamwGroups(
  tensors: readonly AdamwTensor[],
  perDispatch: number,
): { lanes: number; tensors: AdamwTensor[] }[] {
  const groups: { lanes: number; tensors: AdamwTensor[]; values: number }[] = [];
  const open = new Map<number, { lanes: number; tensors: AdamwTensor[]; values: number }>();
  for (const t of tensors) {
    const n = t.param.size, lanes = lanesOf(t);
    if (n === 0) continue;
    if (n > GROUP_VALUES / 4) {
      groups.push({ lanes, tensors: [t], values: n });
      continue;
    }
    let group = open.get(lanes);
    if (!group || group.tensors.length === perDispatch || group.values + n > GROUP_VALUES) {
      groups.push(group = { lanes, tensors: [], values: 0 });
      open.set(lanes, group);
    }
    group.tensors.push(t);
    group.values += n;
  }
  return groups;
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

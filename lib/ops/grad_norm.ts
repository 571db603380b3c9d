/**
 * Global L2 norm of many gradient tensors and the clip coefficient of
 * `torch.nn.utils.clip_grad_norm_`: `norm = sqrt(Σ_tensors Σ_i g_i²)`,
 * `coefficient = min(1, maxNorm / (norm + 1e-6))`. The optimizer multiplies each gradient by the
 * coefficient as it reads it (see `adamwUpdate`'s `clip`), so the gradients themselves are not rewritten.
 *
 * Deterministic two-pass reduction without float atomics: each tensor's workgroups write their partial
 * sums of squares into the tensor's own region of a scratch buffer, then one single-workgroup dispatch
 * sums all partials in a fixed order. The first pass covers many tensors per dispatch (as many as the
 * device binds, at most 32); a tensor's partials depend only on its size, so the grouping changes no bit.
 *
 * @module
 */

import partialCode from "../../kernels/grad_norm_partial.wgsl" with { type: "text" };
import finalCode from "../../kernels/grad_norm_final.wgsl" with { type: "text" };
import type { Gpu, GpuLimits } from "../gpu/device.ts";
import { type Dispatch, type KernelSource, makeDispatch } from "../gpu/kernel.ts";
import { specialize } from "../gpu/template.ts";
import { scratchTensor, type Tensor } from "../gpu/tensor.ts";
import { workgroupSum } from "./pieces.ts";

const partialTemplate = { file: "kernels/grad_norm_partial.wgsl", code: partialCode, pieces: [workgroupSum] };
const finalKernel = specialize({
  file: "kernels/grad_norm_final.wgsl",
  code: finalCode,
  pieces: [workgroupSum],
});

/** Threads per workgroup of the final kernel, and of the partial-sum kernel on a GPU. */
const WORKGROUP_SIZE = 256;

/**
 * Threads per partial-sum workgroup: 256 on a GPU; on a CPU adapter (llvmpipe, where every barrier of the
 * tree switches all of a workgroup's 8-lane SIMD rows) one SIMD row, 8: 1.51 ms against 1.80 for 256 over
 * seven reference-config gradients (measured interleaved, `benchmarks/reduction_width.ts`). A tensor's
 * partials depend on its size and this width only.
 */
function partialThreads(gpu: Gpu): number {
  return gpu.adapter.isFallbackAdapter ? 8 : WORKGROUP_SIZE;
}
/** Values each thread reads at least before another workgroup is added. */
const VALUES_PER_THREAD = 8;
/** Most workgroups (partials) per tensor: enough to fill a GPU, few enough for one final workgroup. */
const MAX_WORKGROUPS_PER_TENSOR = 1024;
/** Largest gradient that shares its partial-sum dispatch with others (see `partialGroups`). */
const SMALL_VALUES = 8192;
/** Most tensors per partial-sum dispatch, whatever the device binds (each adds a case to the kernel). */
const MAX_TENSORS_PER_DISPATCH = 32;

/** Arguments of {@link gradNorm}. */
export interface GradNormArgs {
  /** Output (2): `[global L2 norm, clip coefficient]`, overwritten. */
  out: Tensor;
  /** The gradients, any sizes; empty tensors contribute 0. */
  grads: readonly Tensor[];
  /** Clip threshold (torch `max_norm`), positive; `Infinity` turns clipping off (coefficient 1). */
  maxNorm: number;
  /** Most gradients per partial-sum dispatch (default: as many as the device binds, at most 32). */
  tensorsPerDispatch?: number;
  /** Threads per partial-sum workgroup (a power of two), for benchmarks; default picked per device. */
  threads?: number;
}

/** Number of partial sums (workgroups of `threads`) for a tensor of `n` values. */
function gradNormWorkgroups(n: number, threads: number): number {
  return Math.min(MAX_WORKGROUPS_PER_TENSOR, Math.ceil(n / (threads * VALUES_PER_THREAD)));
}

/** One gradient's region of the partial sums. */
interface Region {
  grad: Tensor;
  /** Its workgroups, one partial each. */
  workgroups: number;
  /** Its first partial. */
  first: number;
}

/**
 * The non-empty regions in dispatch groups: a gradient of more than SMALL_VALUES values has a dispatch of
 * its own; smaller ones share one, `perDispatch` at most. llvmpipe runs every case of the kernel's switch
 * for every thread (masked), so grouping pays for small tensors only, where the launch costs more.
 */
function partialGroups(regions: readonly Region[], perDispatch: number): Region[][] {
  const groups: Region[][] = [];
  let small: Region[] | undefined;
  for (const region of regions) {
    if (region.workgroups === 0) continue;
    if (region.grad.size > SMALL_VALUES) {
      groups.push([region]);
      continue;
    }
    if (!small || small.length === perDispatch) groups.push(small = []);
    small.push(region);
  }
  return groups;
}

/** The kernel's table of a group: per gradient, its size, first workgroup in the dispatch, workgroups, first partial. */
function partialTable(group: readonly Region[]): number[] {
  let workgroups = 0;
  return group.flatMap((r) => {
    const row = [r.grad.size, workgroups, r.workgroups, r.first];
    workgroups += r.workgroups;
    return row;
  });
}

/** The most gradients one partial-sum dispatch can bind on this device (besides the partials). */
export function gradNormTensorsPerDispatch(
  limits: Pick<GpuLimits, "maxStorageBuffersPerShaderStage">,
): number {
  return Math.max(1, Math.min(MAX_TENSORS_PER_DISPATCH, limits.maxStorageBuffersPerShaderStage - 1));
}

/** The partial-sum kernel for `count` gradients, `threads` per workgroup: their bindings and cases filled in. */
function partialKernel(count: number, threads: number): KernelSource {
  return specialize(partialTemplate, { tensors: count, threads }, ({ tensors }) => {
    const ks = Array.from({ length: tensors }, (_, k) => k);
    const bindings = ks.map((k) => `@group(0) @binding(${2 + k}) var<storage, read> grad${k}: array<f32>;`);
    const cases = ks.map((k) =>
      `case ${k}u: { for (var j = j0; j < t.x; j += stride) { let g = grad${k}[j]; s += g * g; } }`
    );
    return {
      slots: { COUNT: tensors, BINDINGS: bindings.join("\n"), CASES: cases.join("\n") },
      constants: { WG: threads },
    };
  });
}

/**
 * Builds the dispatches of the global gradient norm: one partial-sum dispatch per group of gradients
 * ({@link gradNormTensorsPerDispatch}), then one final.
 * Allocates the scratch tensor `gradNorm.partials` (4 bytes per workgroup), which lives as long as
 * the dispatches are used.
 *
 * @throws {RangeError} when `out` does not hold 2 values or `maxNorm` is not positive.
 */
export async function gradNorm(gpu: Gpu, args: GradNormArgs): Promise<Dispatch[]> {
  const { out, grads, maxNorm } = args;
  if (out.size !== 2) {
    throw new RangeError(
      `Cannot write the gradient norm into tensor "${out.name}": it has ${out.size} values, expected 2`,
    );
  }
  if (!(maxNorm > 0)) {
    throw new RangeError(
      `Cannot clip gradients to norm ${maxNorm}: pass a positive maxNorm, or Infinity for none`,
    );
  }
  // Each gradient's region of partials: its workgroups, after the regions of the gradients before it.
  let total = 0;
  const threads = args.threads ?? partialThreads(gpu);
  const regions = grads.map((grad): Region => {
    const region = { grad, workgroups: gradNormWorkgroups(grad.size, threads), first: total };
    total += region.workgroups;
    return region;
  });
  const partials = scratchTensor(gpu, "gradNorm.partials", [total]);
  const perDispatch = Math.min(gradNormTensorsPerDispatch(gpu.limits), args.tensorsPerDispatch ?? Infinity);
  const dispatches: Promise<Dispatch>[] = [];
  for (const group of partialGroups(regions, perDispatch)) {
    dispatches.push(makeDispatch(gpu, partialKernel(group.length, threads), {
      params: { u32: partialTable(group) },
      tensors: [partials, ...group.map((r) => r.grad)],
      workgroups: [group.reduce((sum, r) => sum + r.workgroups, 0), 1, 1],
    }));
  }
  const clipEnabled = Number.isFinite(maxNorm) ? 1 : 0;
  dispatches.push(makeDispatch(gpu, finalKernel, {
    params: { u32: [total, clipEnabled], f32: [clipEnabled ? maxNorm : 0] },
    tensors: [partials, out],
    workgroups: [1, 1, 1],
  }));
  return await Promise.all(dispatches);
}

/** CPU reference of {@link gradNorm} in float64: returns `[norm, clip coefficient]`. */
export function gradNormCpu(grads: readonly ArrayLike<number>[], maxNorm: number): Float64Array {
  let sumSquares = 0;
  for (const grad of grads) {
    for (let i = 0; i < grad.length; i++) sumSquares += grad[i]! * grad[i]!;
  }
  const norm = Math.sqrt(sumSquares);
  const coefficient = Number.isFinite(maxNorm) ? Math.min(1, maxNorm / (norm + 1e-6)) : 1;
  return new Float64Array([norm, coefficient]);
}

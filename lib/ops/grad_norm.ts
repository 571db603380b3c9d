/**
 * Global L2 norm of many gradient tensors and the clip coefficient of
 * `torch.nn.utils.clip_grad_norm_`: `norm = sqrt(Σ_tensors Σ_i g_i²)`,
 * `coefficient = min(1, maxNorm / (norm + 1e-6))`. The optimizer multiplies each gradient by the
 * coefficient as it reads it (see `adamwUpdate`'s `clip`), so the gradients themselves are not rewritten.
 *
 * Deterministic two-pass reduction without float atomics: one dispatch per tensor writes per-workgroup
 * partial sums of squares into its own region of a scratch buffer, then one single-workgroup dispatch
 * sums all partials in a fixed order.
 *
 * @module
 */

import partialCode from "../../kernels/grad_norm_partial.wgsl" with { type: "text" };
import finalCode from "../../kernels/grad_norm_final.wgsl" with { type: "text" };
import workgroupSumCode from "../../kernels/workgroup_sum.wgsl" with { type: "text" };
import type { Gpu } from "../gpu/device.ts";
import { type Dispatch, makeDispatch, withPieces } from "../gpu/kernel.ts";
import { scratchTensor, type Tensor } from "../gpu/tensor.ts";

const workgroupSum = { file: "kernels/workgroup_sum.wgsl", code: workgroupSumCode };
const partialKernel = withPieces({ name: "grad_norm_partial", code: partialCode }, [workgroupSum]);
const finalKernel = withPieces({ name: "grad_norm_final", code: finalCode }, [workgroupSum]);

/** Threads per workgroup of both kernels. */
const WORKGROUP_SIZE = 256;
/** Values each thread reads at least before another workgroup is added. */
const VALUES_PER_THREAD = 8;
/** Most workgroups (partials) per tensor: enough to fill a GPU, few enough for one final workgroup. */
const MAX_WORKGROUPS_PER_TENSOR = 1024;

/** Arguments of {@link gradNorm}. */
export interface GradNormArgs {
  /** Output (2): `[global L2 norm, clip coefficient]`, overwritten. */
  out: Tensor;
  /** The gradients, any sizes; empty tensors contribute 0. */
  grads: readonly Tensor[];
  /** Clip threshold (torch `max_norm`), positive; `Infinity` turns clipping off (coefficient 1). */
  maxNorm: number;
}

/** Number of partial sums (workgroups) for a tensor of `n` values. */
function gradNormWorkgroups(n: number): number {
  return Math.min(MAX_WORKGROUPS_PER_TENSOR, Math.ceil(n / (WORKGROUP_SIZE * VALUES_PER_THREAD)));
}

/**
 * Builds the dispatches of the global gradient norm: one per non-empty gradient, then one final.
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
  const counts = grads.map((g) => gradNormWorkgroups(g.size));
  const total = counts.reduce((a, b) => a + b, 0);
  const partials = scratchTensor(gpu, "gradNorm.partials", [total]);
  const dispatches: Promise<Dispatch>[] = [];
  let offset = 0;
  grads.forEach((grad, k) => {
    const workgroups = counts[k]!;
    if (workgroups === 0) return;
    dispatches.push(makeDispatch(gpu, partialKernel, {
      params: { u32: [grad.size, offset] },
      tensors: [grad, partials],
      workgroups: [workgroups, 1, 1],
    }));
    offset += workgroups;
  });
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

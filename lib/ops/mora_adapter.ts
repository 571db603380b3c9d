/**
 * MoRA's adapter path on the GPU (paper Eq. 2; spec/mora.md §2.5): the operators of `mora.ts` chained with
 * the square step `z = c·Mᵀ` and its gradients (matmuls), on the needed chunks only (see `mora.ts`).
 *
 * - {@link moraForward}: compress, matmul, decompress-add: 3 dispatches, or 2 when f_decomp is the
 *   identity ({@link moraDecompressionIsIdentity}: the matmul accumulates into the layer output).
 * - {@link moraBackward}: recompute the compression (a gather, cheaper than keeping it per layer), fold,
 *   ∂M, and with ∂x the matmul `dc = dz·M` and the scatter-add: 5 dispatches, 4 with the identity.
 *
 * The caller owns the scratch tensors (a `ScratchPool` shares them between layers; they live within one
 * forward or backward), all of {@link moraCompressedShape}.
 *
 * @module
 */

import type { Gpu } from "../gpu/device.ts";
import type { Dispatch } from "../gpu/kernel.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { matmul } from "./matmul.ts";
import {
  moraCompressBackward,
  moraCompressedShape,
  moraCompressForward,
  moraDecompressBackward,
  moraDecompressForward,
  moraDecompressionIsIdentity,
  type MoraDims,
} from "./mora.ts";

/** Arguments of {@link moraForward}. */
export interface MoraForwardArgs extends MoraDims {
  /** (rows, outF), the base layer's output; the adapter output is added into it. */
  out: Tensor;
  /** (rows, inF). */
  x: Tensor;
  /** (R, R), the trainable square matrix. */
  M: Tensor;
  /** Scratch of {@link moraCompressedShape}: overwritten with f_comp(x). */
  compressed: Tensor;
  /** Scratch of {@link moraCompressedShape} for z; unused, and may be omitted, when f_decomp is the identity. */
  z?: Tensor;
}

/** Arguments of {@link moraBackward}. */
export interface MoraBackwardArgs extends MoraDims {
  /** (rows, inF); the adapter's `dout·ΔW` is added into it. Omitted when nothing upstream needs ∂x. */
  dx?: Tensor;
  /** (R, R), overwritten with ∂L/∂M. */
  gradM: Tensor;
  /** (rows, outF), gradient of the layer output. */
  dout: Tensor;
  /** (rows, inF), the forward input (the compression is recomputed from it). */
  x: Tensor;
  /** (R, R). */
  M: Tensor;
  /** Scratch of {@link moraCompressedShape}: holds f_comp(x), then ∂L/∂compressed. */
  compressed: Tensor;
  /** Scratch of {@link moraCompressedShape} for dz; unused, and may be omitted, when f_decomp is the identity. */
  dz?: Tensor;
}

/** Throws a RangeError naming the first tensor that is missing or not of `size` values. */
function checkTensors(op: string, dims: MoraDims, expected: [string, Tensor | undefined, number][]): void {
  for (const [role, tensor, size] of expected) {
    if (tensor?.size === size) continue;
    const what = tensor ? `"${tensor.name}" (${role}) has ${tensor.size} values` : `${role} is missing`;
    throw new RangeError(
      `Cannot build ${op} for "${dims.variant}" (rows ${dims.rows}, in ${dims.inF}, out ${dims.outF}, ` +
        `R ${dims.R}): ${what}, expected ${size}; allocate scratch with moraCompressedShape`,
    );
  }
}

/**
 * Builds the adapter forward `out += f_decomp(f_comp(x)·Mᵀ)` (paper Eq. 2) without materialising ΔW:
 * compress, matmul "nt" into `z`, gather-add into `out`; or, when {@link moraDecompressionIsIdentity},
 * compress and a matmul accumulating into `out`.
 *
 * @throws {RangeError} naming a tensor of the wrong size, or `z` when it is needed and missing.
 * @example
 * ```ts
 * const [compressed, z] = [0, 1].map(() => createTensor(gpu, "scratch", moraCompressedShape(dims)));
 * const plan = await moraForward(gpu, { out, x, M, compressed, z, ...dims });
 * ```
 */
export async function moraForward(gpu: Gpu, args: MoraForwardArgs): Promise<Dispatch[]> {
  const [slotRows, R] = moraCompressedShape(args);
  const identity = moraDecompressionIsIdentity(args);
  checkTensors("MoRA forward", args, [
    ["M", args.M, R * R],
    ["out", args.out, args.rows * args.outF],
    ...identity ? [] : [["z", args.z, slotRows * R] as [string, Tensor | undefined, number]],
  ]);
  const compress = await moraCompressForward(gpu, args);
  // Eq. 2 per chunk: z_j = M·c_j, i.e. (slotRows, R) = (slotRows, R)·(R, R)ᵀ.
  const square = { a: args.compressed, b: args.M, layout: "nt", m: slotRows, n: R, k: R } as const;
  if (identity) return [...compress, ...await matmul(gpu, { ...square, out: args.out, accumulate: true })];
  const z = args.z!;
  return [
    ...compress,
    ...await matmul(gpu, { ...square, out: z }),
    ...await moraDecompressForward(gpu, { ...args, z }),
  ];
}

/**
 * Builds the adapter backward (spec §2.5): recompute `c = f_comp(x)` into `compressed`, fold `dout` into
 * `dz` (skipped, dz = dout, when {@link moraDecompressionIsIdentity}), `gradM = dzᵀ·c` (matmul "tn",
 * overwritten), and, when `dx` is given, `dc = dz·M` into `compressed` (c is used up by then) and
 * scatter-add `dc` into `dx` (accumulates).
 *
 * @throws {RangeError} naming a tensor of the wrong size, or `dz` when it is needed and missing.
 * @example
 * ```ts
 * const plan = await moraBackward(gpu, { dx, gradM, dout, x, M, compressed, dz, ...dims });
 * ```
 */
export async function moraBackward(gpu: Gpu, args: MoraBackwardArgs): Promise<Dispatch[]> {
  const [slotRows, R] = moraCompressedShape(args);
  const identity = moraDecompressionIsIdentity(args);
  const { gradM, compressed, M, dx } = args;
  checkTensors("MoRA backward", args, [
    ["M", M, R * R],
    ["gradM", gradM, R * R],
    ["dout", args.dout, args.rows * args.outF],
    ...identity ? [] : [["dz", args.dz, slotRows * R] as [string, Tensor | undefined, number]],
  ]);
  const dz = identity ? args.dout : args.dz!;
  const plan = [
    ...await moraCompressForward(gpu, args),
    ...identity ? [] : await moraDecompressBackward(gpu, { ...args, dz }),
    // ∂M = Σ_rows Σ_j dz_j·c_jᵀ: (R, R) = (slotRows, R)ᵀ·(slotRows, R)
    ...await matmul(gpu, { out: gradM, a: dz, b: compressed, layout: "tn", m: R, n: R, k: slotRows }),
  ];
  if (!dx) return plan;
  return [
    ...plan,
    // dc_j = Mᵀ·dz_j: (slotRows, R) = (slotRows, R)·(R, R)
    ...await matmul(gpu, { out: compressed, a: dz, b: M, layout: "nn", m: slotRows, n: R, k: R }),
    ...await moraCompressBackward(gpu, { ...args, dx, dcompressed: compressed }),
  ];
}

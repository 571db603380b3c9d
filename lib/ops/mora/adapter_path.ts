/**
 * MoRA's adapter path on the GPU (paper Eq. 2; spec/mora.md §2.5): the operators of `operators.ts` chained with
 * the square step `z = c·Mᵀ` and its gradients (matmuls), on the needed chunks only (see `operators.ts`).
 *
 * - {@link moraForward}: compress, matmul, decompress-add: 3 dispatches, or 2 when f_decomp is the
 *   identity ({@link moraDecompressionIsIdentity}: the matmul accumulates into the layer output).
 * - {@link moraBackward}: recompute the compression transposed (a gather, cheaper than keeping it per
 *   layer), fold, `∂Mᵀ = cᵀ·dz` (an "nn" matmul: no transpose pass and no transpose buffer) and its
 *   transposing crop into ∂M, and with ∂x the matmul `dc = dz·M` and the scatter-add: 6 dispatches, 5
 *   with the identity.
 * - When R is not a multiple of 4, the matmuls take M zero-padded to (P, P) (see `operators.ts`): one more
 *   small pad dispatch each way.
 *
 * The caller owns the scratch tensors ({@link moraScratchShapes}; a `ScratchPool` shares them between
 * layers, as they live within one forward or backward).
 *
 * @module
 */

import padCode from "../../../kernels/mora_square_pad.wgsl" with { type: "text" };
import type { Gpu } from "../../gpu/device.ts";
import { type Dispatch, grid, makeDispatch } from "../../gpu/kernel.ts";
import { specialize } from "../../gpu/template.ts";
import type { Tensor } from "../../gpu/tensor.ts";
import { checkSizes } from "../check_sizes.ts";
import { matmul } from "../matmul.ts";
import {
  moraCompressBackward,
  moraCompressedShape,
  moraCompressForward,
  moraDecompressBackward,
  moraDecompressForward,
  moraDecompressionIsIdentity,
  type MoraDims,
  moraPaddedRank,
} from "./operators.ts";

const padTemplate = { file: "kernels/mora_square_pad.wgsl", code: padCode };

/** Scratch tensors of one adapter forward or backward, shared between layers; see {@link moraScratchShapes}. */
export interface MoraScratch {
  /** f_comp(x), then (backward) ∂L/∂compressed; {@link moraCompressedShape}. */
  compressed: Tensor;
  /** z (forward) or dz (backward), {@link moraCompressedShape}; absent when f_decomp is the identity. */
  z?: Tensor;
  /** M zero-padded to (P, P) for the matmuls; absent when P = R. */
  square?: Tensor;
  /** (∂L/∂M)ᵀ zero-padded to (P, P), cropped and transposed into gradM. */
  squareGrad?: Tensor;
}

/**
 * The scratch tensors an adapter of these sizes needs, by role, with their shapes: `compressed` always,
 * `z` unless {@link moraDecompressionIsIdentity}, `squareGrad` always, `square` unless R is a multiple of 4.
 */
export function moraScratchShapes(dims: MoraDims): Partial<Record<keyof MoraScratch, number[]>> {
  const shape = moraCompressedShape(dims);
  const P = moraPaddedRank(dims.R);
  return {
    compressed: shape,
    ...moraDecompressionIsIdentity(dims) ? {} : { z: shape },
    squareGrad: [P, P],
    ...P === dims.R ? {} : { square: [P, P] },
  };
}

/**
 * The scratch tensors of {@link moraScratchShapes}, each from `get(role, shape)` (a `ScratchPool`'s `get`,
 * or `createTensor`).
 *
 * @example R = 3 is padded to P = 4, so M needs a padded copy too
 * ```ts
 * import assert from "node:assert/strict";
 * import { requestGpu } from "../../gpu/device.ts";
 * import { createTensor } from "../../gpu/tensor.ts";
 * import { moraScratch } from "./adapter_path.ts";
 *
 * const gpu = await requestGpu();
 * const dims = { rows: 2, inF: 8, outF: 8, R: 3, variant: "sharing" } as const;
 * const scratch = moraScratch(dims, (role, shape) => createTensor(gpu, `mora.${role}`, shape));
 * assert.deepEqual(scratch.compressed.shape, [2, 4]);
 * assert.deepEqual(scratch.z?.shape, [2, 4]);
 * assert.deepEqual(scratch.square?.shape, [4, 4]);
 * assert.deepEqual(scratch.squareGrad?.shape, [4, 4]);
 * gpu.device.destroy();
 * ```
 */
export function moraScratch(dims: MoraDims, get: (role: string, shape: number[]) => Tensor): MoraScratch {
  const shapes = moraScratchShapes(dims);
  const scratch: MoraScratch = {
    compressed: get("compressed", shapes.compressed!),
    squareGrad: get("squareGrad", shapes.squareGrad!),
  };
  for (const role of ["z", "square"] as const) {
    const shape = shapes[role];
    if (shape) scratch[role] = get(role, shape);
  }
  return scratch;
}

/** Arguments of {@link moraForward}. */
export interface MoraForwardArgs extends MoraDims, MoraScratch {
  /** (rows, outF), the base layer's output; the adapter output is added into it. */
  out: Tensor;
  /** (rows, inF). */
  x: Tensor;
  /** (R, R), the trainable square matrix. */
  M: Tensor;
}

/** Arguments of {@link moraBackward}. */
export interface MoraBackwardArgs extends MoraDims, MoraScratch {
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
}

/**
 * Throws a RangeError naming the first scratch tensor that is missing or not of its shape's size, but for
 * `unused` (the forward has no use for squareGrad).
 */
function checkScratch(op: string, args: MoraDims & MoraScratch, unused?: keyof MoraScratch): void {
  for (const [role, shape] of Object.entries(moraScratchShapes(args))) {
    if (role === unused) continue;
    const tensor = args[role as keyof MoraScratch];
    const size = shape.reduce((a, b) => a * b, 1);
    if (tensor?.size === size) continue;
    const what = tensor ? `"${tensor.name}" (${role}) has ${tensor.size} values` : `${role} is missing`;
    throw new RangeError(
      `Cannot build ${op} for "${args.variant}" (rows ${args.rows}, in ${args.inF}, out ${args.outF}, ` +
        `R ${args.R}): ${what}, expected [${shape.join(", ")}]; allocate scratch with moraScratchShapes`,
    );
  }
}

/** Pads M (R, R) into `square` (P, P) with zeros, or crops the transpose of `square` into M (`crop`). */
function padSquare(gpu: Gpu, M: Tensor, square: Tensor, R: number, crop: boolean): Promise<Dispatch> {
  const P = moraPaddedRank(R);
  const [src, dst] = crop ? [square, M] : [M, square];
  return makeDispatch(gpu, specialize(padTemplate, { constants: { CROP: crop ? 1 : 0 } }), {
    params: { u32: [R, P] },
    tensors: [src, dst],
    workgroups: grid(gpu, Math.ceil(dst.size / 64)),
  });
}

/**
 * Builds the adapter forward `out += f_decomp(f_comp(x)·Mᵀ)` (paper Eq. 2) without materialising ΔW:
 * compress, matmul "nt" into `z`, gather-add into `out`; or, when {@link moraDecompressionIsIdentity},
 * compress and a matmul accumulating into `out`. When R is not a multiple of 4 the matmul uses M
 * zero-padded to (P, P) in `square` (one more small dispatch); the padding adds exact zeros only.
 *
 * @throws {RangeError} naming a tensor of the wrong size, or a scratch tensor that is needed and missing.
 * @example `sharing` with M = 2·I: out gains twice the chunk sums of x, tiled
 * ```ts
 * import assert from "node:assert/strict";
 * import { requestGpu } from "../../gpu/device.ts";
 * import { runDispatches } from "../../gpu/kernel.ts";
 * import { createTensor, readTensor } from "../../gpu/tensor.ts";
 * import { moraForward, moraScratch } from "./adapter_path.ts";
 *
 * const gpu = await requestGpu();
 * const dims = { rows: 1, inF: 8, outF: 8, R: 4, variant: "sharing" } as const;
 * const scratch = moraScratch(dims, (role, shape) => createTensor(gpu, `mora.${role}`, shape));
 * const x = createTensor(gpu, "x", [1, 8], new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]));
 * const M = createTensor(gpu, "M", [4, 4], new Float32Array([2, 0, 0, 0, 0, 2, 0, 0, 0, 0, 2, 0, 0, 0, 0, 2]));
 * const out = createTensor(gpu, "out", [1, 8]);
 * await runDispatches(gpu, await moraForward(gpu, { out, x, M, ...scratch, ...dims }));
 * assert.deepEqual(await readTensor(out), new Float32Array([12, 16, 20, 24, 12, 16, 20, 24]));
 * gpu.device.destroy();
 * ```
 */
export async function moraForward(gpu: Gpu, args: MoraForwardArgs): Promise<Dispatch[]> {
  const op = "MoRA forward";
  const [slotRows, P] = moraCompressedShape(args);
  checkSizes(op, "M (R, R) and out (rows, outF)", [[args.M, args.R * args.R], [
    args.out,
    args.rows * args.outF,
  ]]);
  checkScratch(op, args, "squareGrad");
  const pad = args.square ? [await padSquare(gpu, args.M, args.square, args.R, false)] : [];
  const compress = await moraCompressForward(gpu, args);
  // Eq. 2 per chunk: z_j = M·c_j, i.e. (slotRows, P) = (slotRows, P)·(P, P)ᵀ.
  const product = {
    a: args.compressed,
    b: args.square ?? args.M,
    layout: "nt",
    m: slotRows,
    n: P,
    k: P,
  } as const;
  if (!args.z) {
    return [...pad, ...compress, ...await matmul(gpu, { ...product, out: args.out, accumulate: true })];
  }
  return [
    ...pad,
    ...compress,
    ...await matmul(gpu, { ...product, out: args.z }),
    ...await moraDecompressForward(gpu, { ...args, z: args.z }),
  ];
}

/**
 * Builds the adapter backward (spec §2.5): recompute `cᵀ = f_comp(x)ᵀ` into `compressed`, fold `dout` into
 * `z` as dz (skipped, dz = dout, when {@link moraDecompressionIsIdentity}), `∂Mᵀ = cᵀ·dz` into `squareGrad`
 * and its crop, transposed, into `gradM` (overwritten), and, when `dx` is given, `dc = dz·M` into
 * `compressed` (cᵀ is used up by then) and scatter-add `dc` into `dx` (accumulates).
 *
 * @throws {RangeError} naming a tensor of the wrong size, or a scratch tensor that is needed and missing.
 * @example `sharing` with M = 2·I: ∂M = dz·cᵀ for the fold dz of dout and the chunk sums c of x
 * ```ts
 * import assert from "node:assert/strict";
 * import { requestGpu } from "../../gpu/device.ts";
 * import { runDispatches } from "../../gpu/kernel.ts";
 * import { createTensor, readTensor } from "../../gpu/tensor.ts";
 * import { moraBackward, moraScratch } from "./adapter_path.ts";
 *
 * const gpu = await requestGpu();
 * const dims = { rows: 1, inF: 8, outF: 8, R: 4, variant: "sharing" } as const;
 * const scratch = moraScratch(dims, (role, shape) => createTensor(gpu, `mora.${role}`, shape));
 * const x = createTensor(gpu, "x", [1, 8], new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]));
 * const M = createTensor(gpu, "M", [4, 4], new Float32Array([2, 0, 0, 0, 0, 2, 0, 0, 0, 0, 2, 0, 0, 0, 0, 2]));
 * const dout = createTensor(gpu, "dout", [1, 8], new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]));
 * const dx = createTensor(gpu, "dx", [1, 8]);
 * const gradM = createTensor(gpu, "gradM", [4, 4]);
 * await runDispatches(gpu, await moraBackward(gpu, { dx, gradM, dout, x, M, ...scratch, ...dims }));
 * const c = [6, 8, 10, 12]; // the chunk sums of x, and the fold of dout
 * assert.deepEqual(await readTensor(gradM), new Float32Array(c.flatMap((dz) => c.map((ci) => dz * ci))));
 * assert.deepEqual(await readTensor(dx), new Float32Array([12, 16, 20, 24, 12, 16, 20, 24]));
 * gpu.device.destroy();
 * ```
 */
export async function moraBackward(gpu: Gpu, args: MoraBackwardArgs): Promise<Dispatch[]> {
  const op = "MoRA backward";
  const [slotRows, P] = moraCompressedShape(args);
  const { R, compressed, dx, square } = args;
  checkSizes(op, "M, gradM (R, R) and dout (rows, outF)", [
    [args.M, R * R],
    [args.gradM, R * R],
    [args.dout, args.rows * args.outF],
  ]);
  checkScratch(op, args);
  const squareGrad = args.squareGrad!;
  const dz = args.z ?? args.dout;
  const plan = [
    ...square ? [await padSquare(gpu, args.M, square, R, false)] : [],
    ...await moraCompressForward(gpu, { ...args, transposed: true }),
    ...args.z ? await moraDecompressBackward(gpu, { ...args, dz }) : [],
    // ∂Mᵀ = Σ_rows Σ_j c_j·dz_jᵀ: (P, P) = (P, slotRows)·(slotRows, P)
    ...await matmul(gpu, { out: squareGrad, a: compressed, b: dz, layout: "nn", m: P, n: P, k: slotRows }),
    await padSquare(gpu, args.gradM, squareGrad, R, true),
  ];
  if (!dx) return plan;
  return [
    ...plan,
    // dc_j = Mᵀ·dz_j: (slotRows, P) = (slotRows, P)·(P, P)
    ...await matmul(gpu, {
      out: compressed,
      a: dz,
      b: square ?? args.M,
      layout: "nn",
      m: slotRows,
      n: P,
      k: P,
    }),
    ...await moraCompressBackward(gpu, { ...args, dx, dcompressed: compressed }),
  ];
}

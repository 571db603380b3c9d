/**
 * MoRA's compress and decompress operators on the GPU (paper §4, Eq. 2–11; spec/mora.md §2–3), forward
 * and backward, for every variant of `variants.ts`. Each builds one dispatch that makes
 * one pass over its largest tensor and never materialises ΔW:
 *
 * - {@link moraCompressForward}: x (rows, in) → compressed, overwritten;
 * - {@link moraDecompressForward}: out (rows, out) += f_decomp(z);
 * - {@link moraDecompressBackward}: dz = fold of dout (rows, out), overwritten;
 * - {@link moraCompressBackward}: dx (rows, in) += Cᵀ·dcompressed.
 *
 * compressed, z, dz and dcompressed are (rows·n′, P) ({@link moraCompressedShape}): row b·n′ + j holds
 * chunk j of row b, its R slots in columns k < R and zeros in the columns R ≤ k < P, where
 * P = {@link moraPaddedRank}(R) is R rounded up to a multiple of 4. The zeros change no sum (padded rows
 * and columns of the square matrix are zero too, see `adapter_path.ts`) and give the square matmuls rows
 * of whole vec4s: their vec4 path (the three square matmuls of 512 rows took 1.4–1.8× less time on
 * llvmpipe at r̂ = 91 → 92 and 143 → 144 than the scalar path).
 *
 * `moraForward` and `moraBackward` (`adapter_path.ts`) chain them with the square step `z = c·Mᵀ` and its
 * gradients (matmuls).
 *
 * **Needed chunks only.** n′ = `neededChunks` of {@link moraLayout} and slots′ = n′·R. For `truncation`
 * and the sharing variants n′ = 1 and slots′ = R. For the chunked variants (`decouple`, `rotation`,
 * Eq. 8–9) the compressed row is n = ceil(in/R) chunks, `Z = (M·c_0, …, M·c_{n−1})` of length L = n·R, and
 * the tile decompression is `y[o] = Z[o mod L]` for o < out. Let n′ = ceil(min(out, L)/R), L′ = n′·R:
 * - forward: if out ≥ L then n′ = n and nothing changes. Otherwise every o < out < L reads
 *   `Z[o mod L] = Z[o]` with o < out ≤ L′, i.e. chunk ⌊o/R⌋ < n′: chunks j ≥ n′ never reach y;
 * - backward: the fold `dz[s] = Σ_{o < out, o mod L = s} g[o]` has no term for s ≥ L′ (same argument),
 *   so dz_j = 0 for j ≥ n′. Then `∂M = Σ_rows Σ_j dz_j·c_jᵀ` gets exact zeros from those chunks,
 *   `dc_j = Mᵀ·dz_j = 0`, and `∂x = Cᵀ·dc` gets exact zeros from the slots p ≥ L′;
 * - the kernels need no new case: `o mod L = o mod L′` for every o < out (both equal o when out < L,
 *   and L′ = L otherwise), so tile/fold with period L′, and compress/scatter over p < L′, are the
 *   definitions restricted to the chunks that matter. Dropping the chunks only drops exact zeros.
 * On a LLaMA down_proj (in = 4·out) this is about a quarter of the chunks, hence of the compression,
 * the square matmuls and the scratch memory.
 *
 * **Four columns per thread.** On llvmpipe a thread's memory access is the cost, and a vec4 one costs about
 * twice a scalar one (`y += x` over 512-row tensors: 3–4 ns per float as vec4, 6–8 as scalar, loaded
 * machine), so the kernels whose written side is a row of whole vec4s move four columns per thread:
 * decompress and fold when out_features is a multiple of 4, the compression backward and the row-major
 * rotation compression when in_features is, with vec4 reads too where the four sources are one aligned
 * vec4 (P = R; R a multiple of 8 for the rotation partners). The `_vec4` kernels sum the same terms in the
 * same order as the scalar ones, which serve every other shape; each pair shares its op's WGSL piece (what
 * it computes, Params, KIND: see `templates.ts`).
 *
 * Rotation tables are computed on the CPU exactly as the float32 reference does ({@link moraRotationTables})
 * and uploaded once per (device, chunks, R), shared by every layer of that shape like the reference's cache.
 *
 * @module
 */

import {
  contiguousGroups,
  MORA_OPERATORS,
  type MoraLayout,
  moraLayout,
  moraRotationTables,
  type MoraVariant,
} from "./variants.ts";
import type { Gpu } from "../../gpu/device.ts";
import { type Dispatch, grid, makeDispatch, type Params } from "../../gpu/kernel.ts";
import { createTensor, type Tensor } from "../../gpu/tensor.ts";
import { checkSizes } from "../check_sizes.ts";
import { moraKernel } from "./templates.ts";

/** Threads per workgroup along the columns (fixed in the kernels), and rows each thread loops over (its
 * index arithmetic is done once and reused on every row; at most 32, see mora_row_accumulators.wgsl). */
const COLUMNS_PER_GROUP = 64;
const ROWS_PER_GROUP = 8;

/** `KIND` constant of mora_compress.wgsl and mora_compress_backward_common.wgsl (the compression backward). */
const COMPRESSION_KIND = { truncate: 0, moduloSum: 1, contiguousSum: 2, chunks: 3 } as const;
/** `KIND` constant of mora_decompress_common.wgsl and mora_decompress_backward_common.wgsl. */
const DECOMPRESSION_KIND = { zeroPad: 0, tile: 1, contiguousRepeat: 2 } as const;

/** The sizes every MoRA op takes. */
export interface MoraDims {
  /** Rows of x (tokens). */
  rows: number;
  /** in_features of the adapted linear layer. */
  inF: number;
  /** out_features of the adapted linear layer. */
  outF: number;
  /** r̂, the side of M (see `moraRank`). */
  R: number;
  /** Which compression/decompression pair. */
  variant: MoraVariant;
}

/**
 * Shape of the compressed tensor (and of z, dz, dcompressed): (rows·neededChunks, P), the chunks that
 * reach the output, each padded to P = {@link moraPaddedRank}(R) columns (see the module docs).
 *
 * @throws {RangeError} when a size is not a positive integer, or R is odd for `rotation`.
 */
export function moraCompressedShape(dims: MoraDims): [number, number] {
  const { neededChunks } = layoutOf("MoRA compressed shape", dims);
  return [dims.rows * neededChunks, moraPaddedRank(dims.R)];
}

/** Arguments of {@link moraCompressForward}. */
export interface MoraCompressForwardArgs extends MoraDims {
  /** (rows·neededChunks, P), overwritten with f_comp(x); its transpose (P, rows·neededChunks) if `transposed`. */
  compressed: Tensor;
  /** Write the transpose of the compressed values (the backward's ∂M product reads it); default false. */
  transposed?: boolean;
  /** (rows, inF). */
  x: Tensor;
}

/** Arguments of {@link moraDecompressForward}. */
export interface MoraDecompressForwardArgs extends MoraDims {
  /** (rows, outF), the base layer's output; f_decomp(z) is added into it. */
  out: Tensor;
  /** (rows·neededChunks, P) = compressed·Mᵀ. */
  z: Tensor;
}

/** Arguments of {@link moraDecompressBackward}. */
export interface MoraDecompressBackwardArgs extends MoraDims {
  /** (rows·neededChunks, P), overwritten with the fold Dᵀ·dout. */
  dz: Tensor;
  /** (rows, outF), gradient of the layer output. */
  dout: Tensor;
}

/** Arguments of {@link moraCompressBackward}. */
export interface MoraCompressBackwardArgs extends MoraDims {
  /** (rows, inF); Cᵀ·dcompressed is added into it. */
  dx: Tensor;
  /** (rows·neededChunks, P), gradient of the compressed tensor (dz·M). */
  dcompressed: Tensor;
}

function layoutOf(op: string, dims: MoraDims): MoraLayout {
  if (!Number.isInteger(dims.rows) || dims.rows < 1) {
    throw new RangeError(`Cannot build ${op}: rows = ${dims.rows} is not a positive integer`);
  }
  return moraLayout(dims.inF, dims.outF, dims.R, dims.variant);
}

/** The layout plus the sizes of the compressed tensor's rows: slots′ = n′·R values in width = n′·P columns. */
function compressedLayout(op: string, dims: MoraDims) {
  const layout = layoutOf(op, dims);
  const stride = moraPaddedRank(dims.R);
  return { ...layout, slots: layout.neededSlots, stride, width: layout.neededChunks * stride };
}

/** The sizes, and where the tensors' shapes come from, for size errors. */
function shapeOf(dims: MoraDims): string {
  return `"${dims.variant}" (rows ${dims.rows}, in ${dims.inF}, out ${dims.outF}, R ${dims.R}): ` +
    `moraCompressedShape, or the layer's (rows, features)`;
}

/** P: r̂ rounded up to a multiple of 4, the row length of the compressed layout (see the module docs). */
export function moraPaddedRank(R: number): number {
  return Math.ceil(R / 4) * 4;
}

/** Workgroups covering `columns` × rows in tiles of 64 columns and ROWS_PER_GROUP rows. */
function tiles(gpu: Gpu, columns: number, rows: number) {
  const colTiles = Math.ceil(columns / COLUMNS_PER_GROUP);
  return { colTiles, workgroups: grid(gpu, colTiles * Math.ceil(rows / ROWS_PER_GROUP)) };
}

/** ALIGNED and PARTNER_ALIGNED of kernels/mora_rotate_vec4_loads.wgsl: P = R; and R a multiple of 8 too. */
function rotationLoads(R: number, stride: number): { ALIGNED: number; PARTNER_ALIGNED: number } {
  const aligned = stride === R;
  return { ALIGNED: aligned ? 1 : 0, PARTNER_ALIGNED: aligned && R % 8 === 0 ? 1 : 0 };
}

const rotationTables = new WeakMap<Gpu, Map<string, { cos: Tensor; sin: Tensor }>>();

/** The device's (chunks, R) rotation tables, uploaded on first use and shared by every layer of that shape. */
function rotationTablesOn(gpu: Gpu, chunks: number, R: number): { cos: Tensor; sin: Tensor } {
  let cache = rotationTables.get(gpu);
  if (!cache) rotationTables.set(gpu, cache = new Map());
  const key = `${chunks}x${R}`;
  let tables = cache.get(key);
  if (!tables || tables.cos.destroyed || tables.sin.destroyed) {
    const { cos, sin } = moraRotationTables(chunks, R);
    tables = {
      cos: createTensor(gpu, `mora.rotation_cos_${key}`, [chunks, R], new Float32Array(cos)),
      sin: createTensor(gpu, `mora.rotation_sin_${key}`, [chunks, R], new Float32Array(sin)),
    };
    cache.set(key, tables);
  }
  return tables;
}

/**
 * Builds f_comp: `compressed = C·x` row by row (overwritten, or its transpose with `transposed`), one
 * dispatch reading x once.
 *
 * @example `sharing` sums the chunks of R = 4 slots of a row of 8
 * ```ts
 * import assert from "node:assert/strict";
 * import { requestGpu } from "../../gpu/device.ts";
 * import { runDispatches } from "../../gpu/kernel.ts";
 * import { createTensor, readTensor } from "../../gpu/tensor.ts";
 * import { moraCompressedShape, moraCompressForward } from "./operators.ts";
 *
 * const gpu = await requestGpu();
 * const dims = { rows: 1, inF: 8, outF: 6, R: 4, variant: "sharing" } as const;
 * const x = createTensor(gpu, "x", [1, 8], new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]));
 * const compressed = createTensor(gpu, "c", moraCompressedShape(dims));
 * await runDispatches(gpu, await moraCompressForward(gpu, { compressed, x, ...dims }));
 * assert.deepEqual(await readTensor(compressed), new Float32Array([6, 8, 10, 12]));
 * gpu.device.destroy();
 * ```
 */
export async function moraCompressForward(gpu: Gpu, args: MoraCompressForwardArgs): Promise<Dispatch[]> {
  const op = "MoRA compress forward";
  const layout = compressedLayout(op, args);
  const { rows, inF, R } = args;
  const { width, stride } = layout;
  checkSizes(op, shapeOf(args), [[args.x, rows * inF], [args.compressed, rows * width]]);
  const { colTiles, workgroups } = tiles(gpu, width, rows);
  const compression = MORA_OPERATORS[args.variant].compression;
  const TRANSPOSED = args.transposed ? 1 : 0;
  if (compression === "rotatedChunks") {
    const { cos, sin } = rotationTablesOn(gpu, layout.chunks, R);
    if (!args.transposed && inF % 4 === 0) {
      // Four columns per thread, one vec4 store (x and the rotation partners as vec4s when aligned).
      const grouped = tiles(gpu, width / 4, rows);
      const vec4Constants = { ...rotationLoads(R, stride), ROWS: ROWS_PER_GROUP };
      return [
        await makeDispatch(gpu, moraKernel("compressRotateVec4", vec4Constants), {
          params: { u32: [rows, inF, width, R, stride, grouped.colTiles] },
          tensors: [args.x, args.x, cos, sin, args.compressed],
          workgroups: grouped.workgroups,
        }),
      ];
    }
    const constants = { TRANSPOSED, ROWS: ROWS_PER_GROUP };
    return [
      await makeDispatch(gpu, moraKernel("compressRotate", constants), {
        params: { u32: [rows, inF, width, R, stride, colTiles] },
        tensors: [args.x, cos, sin, args.compressed],
        workgroups,
      }),
    ];
  }
  const groups = contiguousGroups(inF, R);
  return [
    await makeDispatch(
      gpu,
      moraKernel("compress", { KIND: COMPRESSION_KIND[compression], TRANSPOSED, ROWS: ROWS_PER_GROUP }),
      {
        params: {
          u32: [rows, inF, width, R, stride, colTiles, layout.padded / R, groups.small, groups.large],
        },
        tensors: [args.x, args.compressed],
        workgroups,
      },
    ),
  ];
}

/**
 * Builds f_decomp added into the output: `out[b, o] += z[b, D(o)]`, one gather-add pass over `out`
 * (accumulates).
 *
 * @example `sharing` tiles z (R = 4) over 6 output columns, added into out
 * ```ts
 * import assert from "node:assert/strict";
 * import { requestGpu } from "../../gpu/device.ts";
 * import { runDispatches } from "../../gpu/kernel.ts";
 * import { createTensor, readTensor } from "../../gpu/tensor.ts";
 * import { moraDecompressForward } from "./operators.ts";
 *
 * const gpu = await requestGpu();
 * const dims = { rows: 1, inF: 8, outF: 6, R: 4, variant: "sharing" } as const;
 * const z = createTensor(gpu, "z", [1, 4], new Float32Array([1, 2, 3, 4]));
 * const out = createTensor(gpu, "out", [1, 6], new Float32Array([10, 10, 10, 10, 10, 10]));
 * await runDispatches(gpu, await moraDecompressForward(gpu, { out, z, ...dims }));
 * assert.deepEqual(await readTensor(out), new Float32Array([11, 12, 13, 14, 11, 12]));
 * gpu.device.destroy();
 * ```
 */
export async function moraDecompressForward(gpu: Gpu, args: MoraDecompressForwardArgs): Promise<Dispatch[]> {
  const op = "MoRA decompress forward";
  const { slots, width, stride } = compressedLayout(op, args);
  const { rows, outF, R } = args;
  checkSizes(op, shapeOf(args), [[args.out, rows * outF], [args.z, rows * width]]);
  const decompression = MORA_OPERATORS[args.variant].decompression;
  const columns = decompression === "zeroPad" ? Math.min(R, outF) : outF;
  const groups = contiguousGroups(outF, R);
  const params = (colTiles: number) => ({
    u32: [rows, outF, slots, width, R, stride, columns, colTiles, groups.small, groups.large],
  });
  return await decompressionDispatch(gpu, args, {
    kernel: "decompress",
    columns,
    params,
    source: args.z,
    target: args.out,
  });
}

/** What {@link decompressionDispatch} launches. */
interface DecompressionLaunch {
  /** The forward, or its fold. */
  kernel: "decompress" | "decompressBackward";
  /** Columns of each row the kernel writes. */
  columns: number;
  /** The kernel's Params, given its column tiles. */
  params: (colTiles: number) => Params;
  /** The tensor read: z, or dout. */
  source: Tensor;
  /** The tensor written: out (added into), or dz (overwritten). */
  target: Tensor;
}

/**
 * The dispatch of a decompression kernel over `columns` columns of each row: its `Vec4` form, four columns
 * per thread, when out_features is a multiple of 4, else one column per thread. The vec4 form reads the
 * source as vec4s too (ALIGNED) for the tile with P = R: four consecutive output columns then read one
 * aligned vec4 of the compressed row (its slots′ = n′·R values, a multiple of 4).
 */
async function decompressionDispatch(
  gpu: Gpu,
  dims: MoraDims,
  launch: DecompressionLaunch,
): Promise<Dispatch[]> {
  const { kernel, columns, params, source, target } = launch;
  const decompression = MORA_OPERATORS[dims.variant].decompression;
  const KIND = DECOMPRESSION_KIND[decompression];
  if (dims.outF % 4 === 0) {
    const { colTiles, workgroups } = tiles(gpu, Math.ceil(columns / 4), dims.rows);
    const ALIGNED = decompression === "tile" && moraPaddedRank(dims.R) === dims.R ? 1 : 0;
    const vec4 = moraKernel(`${kernel}Vec4`, { KIND, ALIGNED, ROWS: ROWS_PER_GROUP });
    return [
      await makeDispatch(gpu, vec4, {
        params: params(colTiles),
        tensors: [source, source, target],
        workgroups,
      }),
    ];
  }
  const { colTiles, workgroups } = tiles(gpu, columns, dims.rows);
  return [
    await makeDispatch(gpu, moraKernel(kernel, { KIND, ROWS: ROWS_PER_GROUP }), {
      params: params(colTiles),
      tensors: [source, target],
      workgroups,
    }),
  ];
}

/**
 * Builds the backward of f_decomp: `dz = Dᵀ·dout` row by row (overwritten), the fold of spec §2.5.
 *
 * @example `sharing` folds the 6 output columns onto R = 4: dz[s] = Σ dout[o] over o mod 4 = s
 * ```ts
 * import assert from "node:assert/strict";
 * import { requestGpu } from "../../gpu/device.ts";
 * import { runDispatches } from "../../gpu/kernel.ts";
 * import { createTensor, readTensor } from "../../gpu/tensor.ts";
 * import { moraDecompressBackward } from "./operators.ts";
 *
 * const gpu = await requestGpu();
 * const dims = { rows: 1, inF: 8, outF: 6, R: 4, variant: "sharing" } as const;
 * const dout = createTensor(gpu, "dout", [1, 6], new Float32Array([1, 2, 3, 4, 5, 6]));
 * const dz = createTensor(gpu, "dz", [1, 4]);
 * await runDispatches(gpu, await moraDecompressBackward(gpu, { dz, dout, ...dims }));
 * assert.deepEqual(await readTensor(dz), new Float32Array([6, 8, 3, 4]));
 * gpu.device.destroy();
 * ```
 */
export async function moraDecompressBackward(
  gpu: Gpu,
  args: MoraDecompressBackwardArgs,
): Promise<Dispatch[]> {
  const op = "MoRA decompress backward";
  const { slots, width, stride } = compressedLayout(op, args);
  const { rows, outF, R } = args;
  checkSizes(op, shapeOf(args), [[args.dout, rows * outF], [args.dz, rows * width]]);
  const groups = contiguousGroups(outF, R);
  const params = (colTiles: number) => ({
    u32: [rows, outF, slots, width, R, stride, colTiles, groups.small, groups.large],
  });
  const launch = {
    kernel: "decompressBackward",
    columns: width,
    params,
    source: args.dout,
    target: args.dz,
  } as const;
  return await decompressionDispatch(gpu, args, launch);
}

/**
 * Builds the backward of f_comp: `dx += Cᵀ·dcompressed` row by row (accumulates: the base layer's
 * `dout·W0` is already in dx), undoing the chunk rotations for `rotation`.
 *
 * @example `sharing` sends each slot's gradient back to both chunks of the row of 8, added into dx
 * ```ts
 * import assert from "node:assert/strict";
 * import { requestGpu } from "../../gpu/device.ts";
 * import { runDispatches } from "../../gpu/kernel.ts";
 * import { createTensor, readTensor } from "../../gpu/tensor.ts";
 * import { moraCompressBackward } from "./operators.ts";
 *
 * const gpu = await requestGpu();
 * const dims = { rows: 1, inF: 8, outF: 6, R: 4, variant: "sharing" } as const;
 * const dcompressed = createTensor(gpu, "dc", [1, 4], new Float32Array([1, 2, 3, 4]));
 * const dx = createTensor(gpu, "dx", [1, 8], new Float32Array(8).fill(1));
 * await runDispatches(gpu, await moraCompressBackward(gpu, { dx, dcompressed, ...dims }));
 * assert.deepEqual(await readTensor(dx), new Float32Array([2, 3, 4, 5, 2, 3, 4, 5]));
 * gpu.device.destroy();
 * ```
 */
export async function moraCompressBackward(gpu: Gpu, args: MoraCompressBackwardArgs): Promise<Dispatch[]> {
  const op = "MoRA compress backward";
  const layout = compressedLayout(op, args);
  const { rows, inF, R } = args;
  const { slots, width, stride } = layout;
  checkSizes(op, shapeOf(args), [[args.dx, rows * inF], [args.dcompressed, rows * width]]);
  const compression = MORA_OPERATORS[args.variant].compression;
  // Features i ≥ slots′ have no wrap-padded position p < slots′ in the chunked compressions: nothing to add.
  const chunked = compression === "rotatedChunks" || compression === "chunks";
  if (compression === "rotatedChunks") {
    const { cos, sin } = rotationTablesOn(gpu, layout.chunks, R);
    const { colTiles, workgroups } = tiles(gpu, Math.min(inF, slots), rows);
    if (inF % 4 === 0) {
      // Four columns of dx per thread, vec4 read-add-write (dc and its partners as vec4s when aligned).
      const grouped = tiles(gpu, Math.ceil(Math.min(inF, slots) / 4), rows);
      const constants = { ...rotationLoads(R, stride), ROWS: ROWS_PER_GROUP };
      return [
        await makeDispatch(gpu, moraKernel("compressRotateBackwardVec4", constants), {
          params: { u32: [rows, inF, slots, width, R, stride, grouped.colTiles] },
          tensors: [args.dcompressed, args.dcompressed, cos, sin, args.dx],
          workgroups: grouped.workgroups,
        }),
      ];
    }
    return [
      await makeDispatch(
        gpu,
        moraKernel("compressRotateBackward", { ROWS: ROWS_PER_GROUP }),
        {
          params: { u32: [rows, inF, slots, width, R, stride, colTiles] },
          tensors: [args.dcompressed, cos, sin, args.dx],
          workgroups,
        },
      ),
    ];
  }
  const columns = compression === "truncate" || chunked ? Math.min(slots, inF) : inF;
  const groups = contiguousGroups(inF, R);
  // The chunked sum runs over the wrap-padded positions below slots′ (= padded for the modulo sum).
  const positions = chunked ? slots : layout.padded;
  const params = (colTiles: number) => ({
    u32: [rows, inF, width, R, stride, positions, columns, colTiles, groups.small, groups.large],
  });
  const constants = { KIND: COMPRESSION_KIND[compression], ROWS: ROWS_PER_GROUP };
  // Four columns of dx per thread (vec4 read-add-write) when its rows are whole vec4s.
  const vec4 = inF % 4 === 0;
  const { colTiles, workgroups } = tiles(gpu, vec4 ? Math.ceil(columns / 4) : columns, rows);
  const kernel = moraKernel(vec4 ? "compressBackwardVec4" : "compressBackward", constants);
  return [
    await makeDispatch(gpu, kernel, {
      params: params(colTiles),
      tensors: [args.dcompressed, args.dx],
      workgroups,
    }),
  ];
}

/**
 * Whether f_decomp is the identity on the needed slots (slots′ = outF, with R a multiple of 4 so that no
 * padding columns sit in between: `rotation`/`decouple` when out is a multiple of R no larger than
 * chunks·R, as on square layers with R dividing in; R = outF for the others).
 * Then z is `out`'s own layout, so `moraForward` (`adapter_path.ts`) accumulates the matmul straight into
 * `out` and `moraBackward` reads `dout` as dz: one dispatch and one scratch tensor fewer each way.
 */
export function moraDecompressionIsIdentity(dims: MoraDims): boolean {
  const { width, slots } = compressedLayout("MoRA decompression", dims);
  return width === slots && slots === dims.outF;
}

/**
 * Batched matrix multiply in three layouts, and the linear layer `y = x·Wᵀ` built on it, forward and
 * backward side by side with their float64 CPU references.
 *
 * - `"nt"`: `out[M,N] = a[M,K] · b[N,K]ᵀ` (linear forward `y = x·Wᵀ`, W stored `(outF, inF)`)
 * - `"nn"`: `out[M,N] = a[M,K] · b[K,N]`  (linear input gradient `dx = dy·W`)
 * - `"tn"`: `out[M,N] = a[K,M]ᵀ · b[K,N]` (linear weight gradient `dW = dyᵀ·x`)
 *
 * The kernel (`kernels/matmul.wgsl`) gives each thread a TM×TN register tile of out and reads its
 * operands as vec4s. Its slots are filled here with unrolled statements for one layout, tile and
 * alignment, once per variant (lib/gpu/template.ts). The vec4 variant needs k % 4 == 0, plus m % 4 == 0 for `"tn"` and n % 4 == 0 for `"nn"`
 * and `"tn"` (the k-strided operands); any other shape takes the scalar variant, which clamps and masks
 * each load. On CPU adapters (llvmpipe) tiles are large (up to 32×32: SSBO loads cost a per-lane loop
 * there, so loads per FLOP are what matters); on real GPUs they are 4×4 to keep registers low.
 *
 * Aligned `"tn"` runs as a transpose pre-pass of a into a scratch tensor `matmul.aT` (the size of a,
 * from `args.scratch` when given, else allocated at build time) followed by `"nn"`: on llvmpipe the kernel with both operands k-strided
 * fell to 0.4–6 GFLOP/s on some shapes (512×256, k=128; 512³) against 25–38 for `"nn"` plus transpose.
 *
 * @module
 */

import template from "../../kernels/matmul.wgsl" with { type: "text" };
import transposeCode from "../../kernels/matmul_transpose.wgsl" with { type: "text" };
import type { Gpu } from "../gpu/device.ts";
import { type Dispatch, grid, makeDispatch } from "../gpu/kernel.ts";
import type { ScratchPool } from "../gpu/scratch.ts";
import { createTensor, type Tensor } from "../gpu/tensor.ts";
import { type Specialization, specialize } from "../gpu/template.ts";
import { checkSizes } from "./check_sizes.ts";

const transposeKernel = specialize({ file: "kernels/matmul_transpose.wgsl", code: transposeCode });
const matmulTemplate = { file: "kernels/matmul.wgsl", code: template };

/** Which operand is transposed; see the module docs. */
export type MatmulLayout = "nt" | "nn" | "tn";

/** Arguments of {@link matmul}. */
export interface MatmulArgs {
  /** Output `(batch, M, N)`; may alias neither input. */
  out: Tensor;
  /** Left operand: `(batch, M, K)` for `"nt"`/`"nn"`, `(batch, K, M)` for `"tn"`. */
  a: Tensor;
  /** Right operand: `(batch, N, K)` for `"nt"`, `(batch, K, N)` for `"nn"`/`"tn"`. */
  b: Tensor;
  /** Layout of the operands. */
  layout: MatmulLayout;
  /** Rows of out. */
  m: number;
  /** Columns of out. */
  n: number;
  /** Length of the dot products (0 gives zeros, or leaves out unchanged when accumulating). */
  k: number;
  /** Matrices stored one after another in a, b and out; default 1. */
  batch?: number;
  /** Scale of the product: `out = alpha·(a·b)`; default 1. */
  alpha?: number;
  /** Add into out instead of overwriting it; default false. */
  accumulate?: boolean;
  /** Register tile and workgroup size, for tuning and benchmarks; default picked per device and shape. */
  tiling?: MatmulTiling;
  /** Pool to take the `"tn"` transpose buffer from (shared by all layers); default: one per call. */
  scratch?: ScratchPool;
}

/** Register tile and workgroup size of one matmul. */
export interface MatmulTiling {
  /** Rows of out per thread (multiple of 4). */
  tm: number;
  /** Columns of out per thread (multiple of 4). */
  tn: number;
  /** Threads per workgroup. */
  wg: number;
}

// CPU-adapter tiles, largest first. Measured on llvmpipe (2 cores, 256-bit, CPU-time estimates): 1024³
// "nt" reaches about 35 GFLOP/s with 32×32 against 18 with 8×16 (loads per FLOP fall as 1/TM + 1/TN).
// Skinny outputs (LoRA's rank-r products, n = r) get tall tiles: with TM ≤ 8 and a power-of-two m ≥ 512,
// llvmpipe runs the same kernel 20–30× slower (512×8, k = 128: 4.6 ms at 8×8 against 0.16 ms at 16×8,
// measured interleaved; 384×8 or 1168×8 show no such cliff), so TM = 16 or 32 comes first wherever it fits.
const CPU_TILES = [
  [32, 32],
  [16, 32],
  [16, 16],
  [32, 8],
  [16, 8],
  [32, 4],
  [16, 4],
  [8, 16],
  [8, 8],
  [4, 8],
  [4, 4],
] as const;
// Threads wanted on a CPU adapter: 8 SIMD lanes × 2 cores × 2 workgroups each, to balance the cores.
const CPU_MIN_THREADS = 32;

/** Picks the register tile and workgroup size for an (m, n) output repeated `batch` times. */
function chooseTiling(gpu: Gpu, m: number, n: number, batch: number): MatmulTiling {
  if (!gpu.adapter.isFallbackAdapter) return { tm: 4, tn: 4, wg: 64 };
  const fits = ([tm, tn]: readonly [number, number]) =>
    tm <= roundUp4(m) && tn <= roundUp4(n) &&
    Math.ceil(m / tm) * Math.ceil(n / tn) * batch >= CPU_MIN_THREADS;
  const [tm, tn] = CPU_TILES.find(fits) ?? [4, 4];
  // One or two 8-lane SIMD rows per workgroup: at 1024³ 16 threads beat 64 (37 against 31 GFLOP/s),
  // and small outputs still get several workgroups per core.
  const threads = Math.ceil(m / tm) * Math.ceil(n / tn) * batch;
  return { tm, tn, wg: threads >= 128 ? 16 : 8 };
}

const roundUp4 = (x: number) => Math.ceil(x / 4) * 4;

/** Statements that set up, load and name the per-k fragments of one operand. */
interface OperandCode {
  setup: string[];
  loads: string[];
  /** WGSL expression: vec4 of the four k values of tile row/column `i`. */
  fragment: (i: number) => string;
}

const XYZW = ["x", "y", "z", "w"] as const;

/**
 * Generates the WGSL of operand `x` (a: tile rows along m; b: tile columns along n), whose fastest index
 * is k when `kContiguous`, for the vec4 (`vec`) or scalar variant.
 */
function operandCode(x: "a" | "b", kContiguous: boolean, tile: number, vec: boolean): OperandCode {
  // WGSL names of the tile origin and of the extent along this operand's dimension of out.
  const [o, e] = x === "a" ? ["m0", "m"] : ["n0", "n"];
  const setup: string[] = [];
  const loads: string[] = [];
  const rows = [...Array(tile).keys()];
  if (vec && kContiguous) {
    // One vec4 = four k values of one row of x.
    for (const i of rows) setup.push(`let ${x}r${i} = ${x}_base + min(${o} + ${i}u, ${e} - 1u) * (k / 4u);`);
    for (const i of rows) loads.push(`let ${x}${i} = ${x}[${x}r${i} + kv];`);
    return { setup, loads, fragment: (i) => `${x}${i}` };
  }
  if (vec) {
    // One vec4 = four neighbouring columns of one k row of x; fragments regroup them by k.
    for (let v = 0; v < tile / 4; v++) {
      setup.push(`let ${x}c${v} = ${x}_base + min(${o} / 4u + ${v}u, ${e} / 4u - 1u);`);
      for (let q = 0; q < 4; q++) {
        loads.push(`let ${x}${q}_${v} = ${x}[${x}c${v} + (k0 + ${q}u) * (${e} / 4u)];`);
      }
    }
    const fragment = (i: number) => `vec4f(${[0, 1, 2, 3].map((q) => `${x}${q}_${i >> 2}.${XYZW[i & 3]}`)})`;
    return { setup, loads, fragment };
  }
  // Scalar: each float clamped to the matrix and masked past the end of k (kq<q>, ok<q> below).
  const stride = kContiguous ? "k" : "1u";
  for (const i of rows) setup.push(`let ${x}r${i} = ${x}_base + min(${o} + ${i}u, ${e} - 1u) * ${stride};`);
  const at = (i: number, q: number) => kContiguous ? `${x}r${i} + kq${q}` : `${x}r${i} + kq${q} * ${e}`;
  for (const i of rows) {
    loads.push(`let ${x}${i} = vec4f(${[0, 1, 2, 3].map((q) => `load_${x}(${at(i, q)}, ok${q})`)});`);
  }
  return { setup, loads, fragment: (i) => `${x}${i}` };
}

/** What one matmul kernel depends on: layout, alignment, vec4 stores, tiling, store mode. */
type MatmulVariant = {
  layout: MatmulLayout;
  vec4: boolean;
  outVec4: boolean;
  tm: number;
  tn: number;
  wg: number;
  accumulate: boolean;
};

/** The slots of kernels/matmul.wgsl for one variant: types, tile sizes and unrolled statements. */
function generate({ layout, vec4, outVec4, tm, tn, wg, accumulate }: MatmulVariant): Specialization {
  const a = operandCode("a", layout !== "tn", tm, vec4);
  const b = operandCode("b", layout === "nt", tn, vec4);
  const rows = [...Array(tm).keys()];
  const quads = [...Array(tn / 4).keys()];
  const kMask = vec4
    ? []
    : [0, 1, 2, 3].map((q) => `let kq${q} = min(k0 + ${q}u, k - 1u);\nlet ok${q} = k0 + ${q}u < k;`);
  const fragments = [
    ...rows.map((i) => `let fa${i} = ${a.fragment(i)};`),
    ...[...Array(tn).keys()].map((j) => `let fb${j} = ${b.fragment(j)};`),
  ];
  const updates = rows.flatMap((i) =>
    quads.map((v) => `c${i}_${v} += vec4f(${[0, 1, 2, 3].map((q) => `dot(fa${i}, fb${4 * v + q})`)});`)
  );
  const accumulators = rows.flatMap((i) => quads.map((v) => `var c${i}_${v} = vec4f();`));
  const slots = {
    IN_TYPE: vec4 ? "vec4f" : "f32",
    IN_WIDTH: vec4 ? 4 : 1,
    OUT_TYPE: outVec4 ? "vec4f" : "f32",
    TM: tm,
    TN: tn,
    SETUP: [...a.setup, ...b.setup],
    ACCUMULATORS: accumulators,
    LOADS: [...kMask, ...a.loads, ...b.loads, ...fragments],
    UPDATES: updates,
    STORES: rows.flatMap((i) => storeRow(i, quads, outVec4, accumulate)),
  };
  return {
    constants: { WG: wg },
    slots: Object.fromEntries(
      Object.entries(slots).map(([name, value]) => [name, Array.isArray(value) ? value.join("\n") : value]),
    ),
  };
}

/** Statements writing row `i` of the thread's tile: `out = alpha·c (+ out)`, in range only. */
function storeRow(i: number, quads: number[], outVec: boolean, accumulate: boolean): string[] {
  const value = (index: string, c: string) =>
    accumulate ? `out[${index}] + params.alpha * ${c}` : `params.alpha * ${c}`;
  const body = quads.flatMap((v) => {
    if (outVec) {
      const index = `(out_row0 + ${i}u) * (n / 4u) + n0 / 4u + ${v}u`;
      return [`  if (n0 + ${4 * v}u < n) { out[${index}] = ${value(index, `c${i}_${v}`)}; }`];
    }
    return XYZW.map((c, q) => {
      const index = `(out_row0 + ${i}u) * n + n0 + ${4 * v + q}u`;
      return `  if (n0 + ${4 * v + q}u < n) { out[${index}] = ${value(index, `c${i}_${v}.${c}`)}; }`;
    });
  });
  return [`if (m0 + ${i}u < m) {`, ...body, `}`];
}

/** Throws a RangeError saying which shape scalar, tensor size or tile is wrong and what to pass. */
function validate(s: Required<Omit<MatmulArgs, "layout" | "scratch">>): void {
  for (const [name, value] of Object.entries({ m: s.m, n: s.n, k: s.k, batch: s.batch })) {
    if (!Number.isInteger(value) || value < 0) {
      throw new RangeError(`Cannot multiply: ${name} is ${value}; pass a non-negative integer`);
    }
  }
  if (!Number.isFinite(s.alpha)) {
    throw new RangeError(`Cannot multiply: alpha is ${s.alpha}; pass a finite number`);
  }
  checkSizes(
    "matmul",
    `a (batch ${s.batch}, m ${s.m}, k ${s.k}), b (batch, n ${s.n}, k) and out (batch, m, n)`,
    [
      [s.a, s.batch * s.m * s.k],
      [s.b, s.batch * s.n * s.k],
      [s.out, s.batch * s.m * s.n],
    ],
  );
  const { tm, tn } = s.tiling;
  if (!(tm > 0 && tn > 0 && tm % 4 === 0 && tn % 4 === 0)) {
    throw new RangeError(`Cannot multiply with tile ${tm}×${tn}: pass positive multiples of 4`);
  }
}

/**
 * Builds the dispatch of `out = alpha·(a·b)`, or `out += alpha·(a·b)` when `accumulate` is set, for
 * every batch item. Returns no dispatch when out is empty.
 *
 * @throws {RangeError} when a tensor's size does not match the shape scalars, or a scalar is invalid.
 * @example Linear forward y = x·Wᵀ: two rows of x (2, 3) through W (2, 3)
 * ```ts
 * import assert from "node:assert/strict";
 * import { requestGpu } from "../gpu/device.ts";
 * import { runDispatches } from "../gpu/kernel.ts";
 * import { createTensor, readTensor } from "../gpu/tensor.ts";
 * import { matmul } from "./matmul.ts";
 *
 * const gpu = await requestGpu();
 * const x = createTensor(gpu, "x", [2, 3], new Float32Array([1, 2, 3, 4, 5, 6]));
 * const w = createTensor(gpu, "w", [2, 3], new Float32Array([1, 0, 0, 1, 1, 1]));
 * const y = createTensor(gpu, "y", [2, 2]);
 * await runDispatches(gpu, await matmul(gpu, { out: y, a: x, b: w, layout: "nt", m: 2, n: 2, k: 3 }));
 * assert.deepEqual(await readTensor(y), new Float32Array([1, 6, 4, 15]));
 * gpu.device.destroy();
 * ```
 */
export async function matmul(gpu: Gpu, args: MatmulArgs): Promise<Dispatch[]> {
  const { out, a, b, layout, m, n, k, batch = 1, alpha = 1, accumulate = false } = args;
  const tiling = args.tiling ?? chooseTiling(gpu, m, n, batch);
  validate({ out, a, b, m, n, k, batch, alpha, accumulate, tiling });
  if (m === 0 || n === 0 || batch === 0) return [];
  // vec4 loads need every vec4 to lie within one row: k-contiguous operands need k % 4, k-strided
  // ones (a in "tn", b in "nn"/"tn") need their width % 4 and whole groups of four k rows. (k = 0 is
  // scalar: empty tensors are 4-byte buffers, too small to bind as vec4.)
  const vec = k > 0 && k % 4 === 0 && (layout !== "tn" || m % 4 === 0) && (layout === "nt" || n % 4 === 0);
  const shape = { out, m, n, k, batch, alpha, accumulate, vec, tiling };
  if (layout !== "tn" || !vec) return [await kernelDispatch(gpu, layout, a, b, shape)];
  // "tn" as "nn" on aᵀ (see the module docs for why).
  const size = [batch * m * k];
  const aT = args.scratch?.get("matmul.aT", size) ?? createTensor(gpu, "matmul.aT", size);
  return [await transpose(gpu, aT, a, shape), await kernelDispatch(gpu, "nn", aT, b, shape)];
}

/** What one kernel dispatch depends on besides its operands: the checked args, and the alignment. */
type KernelShape = Required<Omit<MatmulArgs, "a" | "b" | "layout" | "scratch">> & { vec: boolean };

/** Binds the kernel of `layout` (generated once per variant) to the operands. */
function kernelDispatch(
  gpu: Gpu,
  layout: MatmulLayout,
  a: Tensor,
  b: Tensor,
  s: KernelShape,
): Promise<Dispatch> {
  const { out, m, n, k, batch, alpha, accumulate, vec, tiling } = s;
  const variant = { layout, vec4: vec, outVec4: n % 4 === 0, ...tiling, accumulate };
  const tilesN = Math.ceil(n / tiling.tn);
  const tiles = Math.ceil(m / tiling.tm) * tilesN;
  const [x, y] = grid(gpu, Math.ceil(tiles / tiling.wg));
  const kernel = specialize(matmulTemplate, variant, generate);
  return makeDispatch(gpu, kernel, {
    params: { u32: [m, n, k, tilesN, tiles], f32: [alpha] },
    tensors: [a, b, out],
    workgroups: [x, y, batch],
  });
}

/** Builds `y = xᵀ` per batch item for x `(k, m)` and y `(m, k)`, with m and k multiples of 4. */
function transpose(gpu: Gpu, y: Tensor, x: Tensor, { k, m, batch }: KernelShape): Promise<Dispatch> {
  const blocks = (k / 4) * (m / 4);
  const [gx, gy] = grid(gpu, Math.ceil(blocks / 64));
  return makeDispatch(gpu, transposeKernel, {
    params: { u32: [k, m, m / 4, blocks] },
    tensors: [x, y],
    workgroups: [gx, gy, batch],
  });
}

/**
 * Float64 reference of {@link matmul} with alpha 1, overwriting: returns out `(batch, m, n)`.
 *
 * @example a (1, 2) times bᵀ for b (3, 2)
 * ```ts
 * import assert from "node:assert/strict";
 * import { matmulCpu } from "./matmul.ts";
 *
 * const out = matmulCpu([1, 2], [1, 0, 0, 1, 1, 1], "nt", 1, 3, 2);
 * assert.deepEqual(out, new Float64Array([1, 2, 3]));
 * ```
 */
export function matmulCpu(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  layout: MatmulLayout,
  m: number,
  n: number,
  k: number,
  batch = 1,
): Float64Array {
  const out = new Float64Array(batch * m * n);
  // Element strides of a along (m, k) and of b along (n, k).
  const [aM, aK] = layout === "tn" ? [1, m] : [k, 1];
  const [bN, bK] = layout === "nt" ? [k, 1] : [1, n];
  for (let t = 0; t < batch; t++) {
    const a0 = t * m * k;
    const b0 = t * n * k;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let sum = 0;
        for (let p = 0; p < k; p++) sum += a[a0 + i * aM + p * aK]! * b[b0 + j * bN + p * bK]!;
        out[(t * m + i) * n + j] = sum;
      }
    }
  }
  return out;
}

/** Arguments of {@link linearForward}: `out = x·Wᵀ` (`+ out` when accumulating). */
export interface LinearForwardArgs {
  /** Output `(rows, outFeatures)`. */
  out: Tensor;
  /** Input `(rows, inFeatures)`. */
  x: Tensor;
  /** Weight `(outFeatures, inFeatures)`, PyTorch layout. */
  w: Tensor;
  rows: number;
  inFeatures: number;
  outFeatures: number;
  /** Add into out instead of overwriting it; default false. */
  accumulate?: boolean;
}

/** Builds the bias-free linear forward `out = x·Wᵀ` (matmul layout `"nt"`). */
export function linearForward(gpu: Gpu, args: LinearForwardArgs): Promise<Dispatch[]> {
  const { out, x, w, rows, inFeatures, outFeatures, accumulate = false } = args;
  return matmul(gpu, { out, a: x, b: w, layout: "nt", m: rows, n: outFeatures, k: inFeatures, accumulate });
}

/** Arguments of {@link linearBackward}; omit `dx` (first layer) or `dw` (frozen weight) to skip it. */
export interface LinearBackwardArgs {
  /** Input gradient `(rows, inFeatures)`: overwritten, or added into with `accumulateDx`. */
  dx?: Tensor;
  /** Weight gradient `(outFeatures, inFeatures)`: overwritten, or added into with `accumulateDw`. */
  dw?: Tensor;
  /** Output gradient `(rows, outFeatures)`. */
  dy: Tensor;
  /** Forward input `(rows, inFeatures)`. */
  x: Tensor;
  /** Weight `(outFeatures, inFeatures)`. */
  w: Tensor;
  rows: number;
  inFeatures: number;
  outFeatures: number;
  accumulateDx?: boolean;
  accumulateDw?: boolean;
  /** Pool for the transpose buffer of `dW` (see {@link MatmulArgs.scratch}). */
  scratch?: ScratchPool;
}

/**
 * Builds the backward of `y = x·Wᵀ`: `dx = dy·W` (layout `"nn"`) and `dW = dyᵀ·x` (layout `"tn"`).
 * Each gradient is OVERWRITTEN unless its `accumulate*` flag is set, then it is added into.
 */
export async function linearBackward(gpu: Gpu, args: LinearBackwardArgs): Promise<Dispatch[]> {
  const { dx, dw, dy, x, w, rows, inFeatures: inF, outFeatures: outF } = args;
  const plan: Dispatch[] = [];
  const nn = { a: dy, b: w, layout: "nn", m: rows, n: inF, k: outF, accumulate: args.accumulateDx } as const;
  if (dx) plan.push(...await matmul(gpu, { out: dx, ...nn }));
  const tn = { a: dy, b: x, layout: "tn", m: outF, n: inF, k: rows, accumulate: args.accumulateDw } as const;
  if (dw) plan.push(...await matmul(gpu, { out: dw, ...tn, scratch: args.scratch }));
  return plan;
}

/** Plain-array inputs of the linear CPU references; x is `(rows, inFeatures)`, w `(outFeatures, inFeatures)`. */
export interface LinearCpuArgs {
  x: ArrayLike<number>;
  w: ArrayLike<number>;
  rows: number;
  inFeatures: number;
  outFeatures: number;
}

/** Float64 reference of {@link linearForward}: returns `x·Wᵀ`, `(rows, outFeatures)`. */
export function linearForwardCpu({ x, w, rows, inFeatures, outFeatures }: LinearCpuArgs): Float64Array {
  return matmulCpu(x, w, "nt", rows, outFeatures, inFeatures);
}

/** Float64 reference of {@link linearBackward} for dy `(rows, outFeatures)`: `dx = dy·W`, `dw = dyᵀ·x`. */
export function linearBackwardCpu(args: LinearCpuArgs & { dy: ArrayLike<number> }): {
  dx: Float64Array;
  dw: Float64Array;
} {
  const { dy, x, w, rows, inFeatures, outFeatures } = args;
  return {
    dx: matmulCpu(dy, w, "nn", rows, inFeatures, outFeatures),
    dw: matmulCpu(dy, x, "tn", outFeatures, inFeatures, rows),
  };
}

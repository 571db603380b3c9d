/**
 * Rotary position embedding (RoPE) with Hugging Face LLaMA's `rotate_half` (half-split) pairing;
 * forward, backward and their float64 CPU references.
 *
 * For a head vector v of length D (h = D/2) at position p, with `ang = p·inv_freq[i mod h]`:
 * `out[i] = v[i]cos − v[i+h]sin` (i < h) and `out[i] = v[i]cos + v[i−h]sin` (i ≥ h). The backward is
 * the rotation by −angle (the transpose).
 *
 * Angles follow HF in float32: `inv_freq = 1/(theta^(arange(0, D, 2)/D))`, `angle = p·inv_freq`, each
 * step rounded to float32, then cos/sin rounded to float32. {@link ropeCosSin} builds that table on the
 * CPU once per plan; it is uploaded into a scratch tensor `rope.cos_sin` at build time. It matches the
 * tables PyTorch made for the golden MoRA vectors to 1 float32 ulp (PyTorch's cos is not always
 * correctly rounded; ours is).
 *
 * @module
 */

import code from "../../kernels/rope.wgsl" with { type: "text" };
import type { Gpu } from "../gpu/device.ts";
import { type Dispatch, grid, makeDispatch } from "../gpu/kernel.ts";
import { scratchTensor, type Tensor, writeTensor } from "../gpu/tensor.ts";
import { specialize } from "../gpu/template.ts";
import { checkSizes } from "./check_sizes.ts";

/** Threads per workgroup, as the kernel declares. */
const THREADS = 256;
/** kernels/rope.wgsl, whose `Values` are vec4f or f32. */
const ropeTemplate = { file: "kernels/rope.wgsl", code };

/** Shape and angles shared by {@link ropeForward} and {@link ropeBackward}. */
export interface RopeShape {
  /** Number of sequences in the batch. */
  batch: number;
  /** Tokens per sequence. */
  seqLen: number;
  /** Heads per token. */
  heads: number;
  /** Head size D; must be even. */
  headDim: number;
  /** Frequency base (HF `rope_theta`, 10000 for LLaMA). */
  theta: number;
  /** Position of each sequence's first token; fixed when the plan is built (default 0). */
  positionOffset?: number;
}

/** Arguments of {@link ropeForward}. */
export interface RopeForwardArgs extends RopeShape {
  /** Rotated vectors, (batch, seqLen, heads, headDim). */
  out: Tensor;
  /** Input vectors (queries or keys), (batch, seqLen, heads, headDim). */
  x: Tensor;
}

/** Arguments of {@link ropeBackward}. */
export interface RopeBackwardArgs extends RopeShape {
  /** Gradient of the input, (batch, seqLen, heads, headDim), overwritten. */
  dx: Tensor;
  /** Gradient of the output, (batch, seqLen, heads, headDim). */
  dout: Tensor;
}

/**
 * The float32 cos and sin tables, each (seqLen, headDim/2), of positions `positionOffset + t`,
 * computed as HF LLaMA does in float32.
 *
 * @example Two positions of a head of size 4: frequencies 1 and 1/100
 * ```ts
 * import assert from "node:assert/strict";
 * import { ropeCosSin } from "./rope.ts";
 *
 * const { cos, sin } = ropeCosSin(2, 4, 10000);
 * assert.deepEqual(cos, new Float32Array([1, 1, Math.cos(1), Math.cos(0.01)]));
 * assert.deepEqual(sin, new Float32Array([0, 0, Math.sin(1), Math.sin(0.01)]));
 * ```
 */
export function ropeCosSin(
  seqLen: number,
  headDim: number,
  theta: number,
  positionOffset = 0,
): { cos: Float32Array<ArrayBuffer>; sin: Float32Array<ArrayBuffer> } {
  const f32 = Math.fround;
  const half = headDim / 2;
  const cos = new Float32Array(seqLen * half);
  const sin = new Float32Array(seqLen * half);
  for (let i = 0; i < half; i++) {
    const invFreq = f32(1 / f32(Math.pow(theta, f32((2 * i) / headDim))));
    for (let t = 0; t < seqLen; t++) {
      const angle = f32(f32(positionOffset + t) * invFreq);
      cos[t * half + i] = Math.cos(angle);
      sin[t * half + i] = Math.sin(angle);
    }
  }
  return { cos, sin };
}

/** Throws a RangeError for a shape the kernel cannot take or a tensor that does not fit it. */
function checkShape(op: string, shape: RopeShape, tensors: Tensor[]): void {
  const { batch, seqLen, heads, headDim, theta } = shape;
  const offset = shape.positionOffset ?? 0;
  if (headDim <= 0 || headDim % 2 !== 0) {
    throw new RangeError(
      `Cannot run ${op}: headDim ${headDim} is not a positive even number; use an even head size`,
    );
  }
  if (!Number.isInteger(offset) || offset < 0 || !(theta > 0)) {
    throw new RangeError(
      `Cannot run ${op}: positionOffset ${offset} and theta ${theta} must be a non-negative integer and a ` +
        `positive number`,
    );
  }
  const size = batch * seqLen * heads * headDim;
  const sizes = `(batch ${batch}, seqLen ${seqLen}, heads ${heads}, headDim ${headDim})`;
  checkSizes(op, sizes, tensors.map((t) => [t, size] as const));
}

/** One dispatch rotating `input` into `output` by `sign`·angle. */
function rotate(gpu: Gpu, output: Tensor, input: Tensor, shape: RopeShape, sign: number): Promise<Dispatch> {
  const { batch, seqLen, heads, headDim } = shape;
  const { cos, sin } = ropeCosSin(seqLen, headDim, shape.theta, shape.positionOffset);
  const half = headDim / 2;
  const table = scratchTensor(gpu, "rope.cos_sin", [2, seqLen, half]);
  writeTensor(table, cos);
  writeTensor(table, sin, cos.length);
  const lanes = half % 4 === 0 ? 4 : 1;
  const pairs = (batch * seqLen * heads * half) / lanes;
  const kernel = specialize(ropeTemplate, { slots: { VALUES: lanes === 4 ? "vec4f" : "f32" } });
  return makeDispatch(gpu, kernel, {
    params: { u32: [pairs, half / lanes, heads, seqLen], f32: [sign] },
    tensors: [input, table, output],
    workgroups: grid(gpu, Math.ceil(pairs / THREADS)),
  });
}

/**
 * Builds the forward, `out = RoPE(x)`: one dispatch (vectorized when headDim is a multiple of 8), plus
 * the cos/sin table uploaded now.
 *
 * @example Rotate the vector (1, 0) at positions 0 and 1: by angles 0 and 1
 * ```ts
 * import assert from "node:assert/strict";
 * import { requestGpu } from "../gpu/device.ts";
 * import { runDispatches } from "../gpu/kernel.ts";
 * import { createTensor, readTensor } from "../gpu/tensor.ts";
 * import { ropeForward } from "./rope.ts";
 *
 * const gpu = await requestGpu();
 * const x = createTensor(gpu, "x", [1, 2, 1, 2], new Float32Array([1, 0, 1, 0]));
 * const out = createTensor(gpu, "out", [1, 2, 1, 2]);
 * const shape = { batch: 1, seqLen: 2, heads: 1, headDim: 2, theta: 1e4 };
 * await runDispatches(gpu, await ropeForward(gpu, { out, x, ...shape }));
 * const want = [1, 0, Math.cos(1), Math.sin(1)];
 * assert.ok((await readTensor(out)).every((v, i) => Math.abs(v - want[i]!) < 1e-6));
 * gpu.device.destroy();
 * ```
 */
export async function ropeForward(gpu: Gpu, args: RopeForwardArgs): Promise<Dispatch[]> {
  checkShape("rope forward", args, [args.out, args.x]);
  return [await rotate(gpu, args.out, args.x, args, 1)];
}

/**
 * Builds the backward, `dx = RoPE⁻¹(dout)` (rotation by −angle), overwriting `dx`: one dispatch.
 *
 * @example The backward undoes the forward, the rotation's transpose being its inverse
 * ```ts
 * import assert from "node:assert/strict";
 * import { requestGpu } from "../gpu/device.ts";
 * import { runDispatches } from "../gpu/kernel.ts";
 * import { createTensor, readTensor } from "../gpu/tensor.ts";
 * import { ropeBackward, ropeForward } from "./rope.ts";
 *
 * const gpu = await requestGpu();
 * const values = new Float32Array([0.5, -1, 2, 0.25, 1, 3, -2, 0.5]);
 * const x = createTensor(gpu, "x", [1, 2, 1, 4], values);
 * const [rotated, back] = [createTensor(gpu, "rotated", [8]), createTensor(gpu, "back", [8])];
 * const shape = { batch: 1, seqLen: 2, heads: 1, headDim: 4, theta: 1e4, positionOffset: 5 };
 * await runDispatches(gpu, [
 *   ...await ropeForward(gpu, { out: rotated, x, ...shape }),
 *   ...await ropeBackward(gpu, { dx: back, dout: rotated, ...shape }),
 * ]);
 * assert.ok((await readTensor(back)).every((v, i) => Math.abs(v - values[i]!) < 1e-5));
 * gpu.device.destroy();
 * ```
 */
export async function ropeBackward(gpu: Gpu, args: RopeBackwardArgs): Promise<Dispatch[]> {
  checkShape("rope backward", args, [args.dx, args.dout]);
  return [await rotate(gpu, args.dx, args.dout, args, -1)];
}

/** Rotation of (batch, seqLen, heads, headDim) vectors by `sign`·angle in float64, with HF's float32 table. */
function rotateCpu(v: ArrayLike<number>, shape: RopeShape, sign: number): Float64Array {
  const { batch, seqLen, heads, headDim } = shape;
  const half = headDim / 2;
  const { cos, sin } = ropeCosSin(seqLen, headDim, shape.theta, shape.positionOffset);
  const out = new Float64Array(batch * seqLen * heads * headDim);
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < seqLen; t++) {
      for (let hd = 0; hd < heads; hd++) {
        const base = ((b * seqLen + t) * heads + hd) * headDim;
        for (let i = 0; i < half; i++) {
          const c = cos[t * half + i]!;
          const s = sign * sin[t * half + i]!;
          const lo = v[base + i]!;
          const hi = v[base + half + i]!;
          out[base + i] = lo * c - hi * s;
          out[base + half + i] = hi * c + lo * s;
        }
      }
    }
  }
  return out;
}

/** CPU reference of {@link ropeForward}: float64 arithmetic on the float32 angle table HF uses. */
export function ropeForwardCpu(x: ArrayLike<number>, shape: RopeShape): Float64Array {
  return rotateCpu(x, shape, 1);
}

/** CPU reference of {@link ropeBackward}: the rotation by −angle, in float64. */
export function ropeBackwardCpu(dout: ArrayLike<number>, shape: RopeShape): Float64Array {
  return rotateCpu(dout, shape, -1);
}

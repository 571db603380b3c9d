/**
 * Dropout on an adapter's input (PEFT `lora_dropout`, spec baselines §1): `D(x) = mask ⊙ x / (1−p)` with
 * `mask ~ Bernoulli(1−p)` per element per training step. The mask is a counter-based hash of (the layer's
 * stream id, the step, the element index), so nothing is stored: the backward pass recomputes the same mask.
 * The step lives on the GPU (a one-word u32 tensor the trainer rewrites before every step), so dispatches are
 * built once and still draw a new mask each step.
 *
 * D is diagonal, so its backward is D again with the same mask: `∂x = D(∂D(x))`. {@link applyDropout} writes
 * or accumulates `D(x)` (forward, or the backward of an adapter's input gradient) and, with `complement`,
 * `x − D(x)` (DoRA's training form uses `(x − D(x))·W0ᵀ`).
 *
 * @module
 */

import code from "../../kernels/dropout.wgsl" with { type: "text" };
import type { Gpu } from "../gpu/device.ts";
import { type Dispatch, grid, makeDispatch } from "../gpu/kernel.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { specialize } from "../gpu/template.ts";
import { nameSeed } from "../random.ts";

const kernel = specialize({ file: "kernels/dropout.wgsl", code });

/** Where one layer's dropout masks come from. */
export interface DropoutMask {
  /** Drop probability p, in [0, 1). */
  p: number;
  /** One-word u32 tensor holding the training step; the trainer rewrites it before each step. */
  step: Tensor;
  /** The layer's stream id ({@link dropoutStream}): layers sharing an input still draw independent masks. */
  stream: number;
}

/**
 * Throws unless `p` is a dropout probability in [0, 1).
 *
 * @throws {RangeError} naming `field` and the value.
 */
export function checkDropoutRate(p: number, field = "dropout"): void {
  if (!(typeof p === "number" && p >= 0 && p < 1)) {
    throw new RangeError(`Cannot use ${field} ${p}: it must be a probability in [0, 1), e.g. 0.05`);
  }
}

/** The stream id of a layer's masks, from the run seed and the layer's module path. */
export function dropoutStream(seed: number, layerName: string): number {
  return nameSeed(seed, `dropout:${layerName}`);
}

/** The u32 threshold of the mask: an element is kept when its hash is at least `round(p·2³²)`. */
export function dropoutThreshold(p: number): number {
  checkDropoutRate(p);
  return Math.min(0xffffffff, Math.round(p * 2 ** 32));
}

/** PCG hash (Jarzynski & Olano 2020), as `kernels/dropout.wgsl` computes it in u32 arithmetic. */
function pcg(v: number): number {
  const state = (Math.imul(v, 747796405) + 2891336453) >>> 0;
  const word = Math.imul((state >>> ((state >>> 28) + 4)) ^ state, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

/** The 32-bit hash that decides element `index` of a layer's mask at `step` (the kernel's, bit for bit). */
export function dropoutBits(stream: number, step: number, index: number): number {
  const key = pcg((stream ^ pcg(step >>> 0)) >>> 0);
  return pcg((pcg((index ^ key) >>> 0) + key) >>> 0);
}

/** CPU reference of the mask: 1 where element i of `n` is kept, 0 where it is dropped. */
export function dropoutKeepsCpu(p: number, stream: number, step: number, n: number): Uint8Array {
  const threshold = dropoutThreshold(p);
  const keeps = new Uint8Array(n);
  for (let i = 0; i < n; i++) keeps[i] = dropoutBits(stream, step, i) >= threshold ? 1 : 0;
  return keeps;
}

/**
 * CPU reference of the multiplier D applies per element: `1/(1−p)` (rounded to float32, as the kernel uses it)
 * where kept, 0 where dropped. `D(x) = multiplier ⊙ x`.
 */
export function dropoutMultiplierCpu(p: number, stream: number, step: number, n: number): Float64Array {
  const keep = Math.fround(1 / (1 - p));
  return Float64Array.from(dropoutKeepsCpu(p, stream, step, n), (k) => k * keep);
}

/** CPU reference of {@link applyDropout} without accumulation: `D(x)`, or `x − D(x)` with `complement`. */
export function dropoutCpu(
  x: ArrayLike<number>,
  p: number,
  stream: number,
  step: number,
  complement = false,
): Float64Array {
  const multiplier = dropoutMultiplierCpu(p, stream, step, x.length);
  return Float64Array.from(multiplier, (d, i) => x[i]! * (complement ? 1 - d : d));
}

/** Arguments of {@link applyDropout}: `out (+)= D(x)`, or `out (+)= x − D(x)` with `complement`. */
export interface DropoutArgs {
  /** Output, same size as x; may not alias x. */
  out: Tensor;
  /** Input (forward) or the gradient to mask (backward). */
  x: Tensor;
  /** The layer's mask source. */
  mask: DropoutMask;
  /** Add into out instead of overwriting it; default false. */
  accumulate?: boolean;
  /** Write `x − D(x)` (= x ⊙ (1 − mask/(1−p))) instead of `D(x)`; default false. */
  complement?: boolean;
}

/** Builds the dispatch of `out (+)= D(x)` (or its complement) with the mask of the current step. */
export function applyDropout(gpu: Gpu, args: DropoutArgs): Promise<Dispatch> {
  const { out, x, mask } = args;
  const n = out.size;
  if (x.size !== n) {
    throw new RangeError(`Cannot apply dropout to "${x.name}" (${x.size} values) into "${out.name}" (${n})`);
  }
  if (mask.step.size !== 1) {
    throw new RangeError(`Cannot read the dropout step from "${mask.step.name}": it must hold one u32`);
  }
  const keep = 1 / (1 - mask.p);
  const [keepFactor, dropFactor] = args.complement ? [1 - keep, 1] : [keep, 0];
  return makeDispatch(gpu, kernel, {
    params: {
      u32: [n, mask.stream >>> 0, dropoutThreshold(mask.p), args.accumulate ? 1 : 0],
      f32: [keepFactor, dropFactor],
    },
    tensors: [mask.step, x, out],
    workgroups: grid(gpu, Math.ceil(n / 256)),
  });
}

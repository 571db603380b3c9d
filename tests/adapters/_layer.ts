/**
 * Helpers of the adapter layer tests: run one layer's forward and backward on the GPU, a random base layer,
 * random adapter tensors, and a dropout mask source with its CPU multiplier.
 *
 * @module
 */

import type { AdapterLayer } from "../../lib/adapters/types.ts";
import type { Gpu } from "../../lib/gpu/device.ts";
import { runDispatches } from "../../lib/gpu/kernel.ts";
import { createTensor, readTensor, type Tensor, writeTensor } from "../../lib/gpu/tensor.ts";
import { DenseLinear } from "../../lib/model/linear.ts";
import { type DropoutMask, dropoutMultiplierCpu, dropoutStream } from "../../lib/ops/dropout.ts";
import type { Rng } from "../_numeric.ts";

// Float32 GPU against float64 CPU: each output sums (in + r) products of values in [-1, 1], so rounding
// is ~1e-7·sqrt(terms)·scale; 2e-5 absolute and 1e-4 relative leave ample room without hiding a wrong term
// (a wrong term is O(0.1)). Finite differences in float64 with h = 1e-6 on a smooth function: error ~1e-9.
export const GPU_TOL = { atol: 2e-5, rtol: 1e-4 };
export const FD_TOL = { atol: 1e-7, rtol: 1e-6 };

/** What {@link runLayer} reads back. */
export interface Run {
  y: Float32Array;
  dx: Float32Array;
  grads: Map<string, Float32Array>;
}

/** Runs forward and backward of an adapter layer (dx accumulated onto `dxInit`), training or evaluating. */
export async function runLayer(
  gpu: Gpu,
  layer: AdapterLayer,
  x: Float32Array<ArrayBuffer>,
  dy: Float32Array<ArrayBuffer>,
  dxInit: Float32Array<ArrayBuffer>,
  training = false,
): Promise<Run> {
  const rows = x.length / layer.inFeatures;
  const tx = createTensor(gpu, "x", [rows, layer.inFeatures], x);
  const tdy = createTensor(gpu, "dy", [rows, layer.outFeatures], dy);
  const out = createTensor(gpu, "out", [rows, layer.outFeatures]);
  const dx = createTensor(gpu, "dx", [rows, layer.inFeatures], dxInit);
  await runDispatches(gpu, [
    ...await layer.forward(gpu, { out, x: tx, rows, training }),
    ...await layer.backward(gpu, { dx, accumulateDx: true, dy: tdy, x: tx, rows, training }),
  ]);
  const grads = new Map<string, Float32Array>();
  for (const t of layer.trainable()) {
    grads.set(t.name.split(".").slice(-2).join("."), await readTensor(t.grad));
  }
  const result = { y: await readTensor(out), dx: await readTensor(dx), grads };
  for (const t of [tx, tdy, out, dx]) t.destroy();
  return result;
}

/** A frozen base layer with random W0 in [-0.5, 0.5). */
export function baseLayer(
  gpu: Gpu,
  rng: Rng,
  outF: number,
  inF: number,
): { base: DenseLinear; w0: Float32Array } {
  const w0 = rng.floats(outF * inF, -0.5, 0.5);
  return {
    base: new DenseLinear("model.layers.0.mlp.up_proj", createTensor(gpu, "w0", [outF, inF], w0)),
    w0,
  };
}

/** Fills a tensor with random values and returns them. */
export function fill(t: Tensor, rng: Rng, lo = -0.5, hi = 0.5): Float32Array<ArrayBuffer> {
  const values = rng.floats(t.size, lo, hi);
  writeTensor(t, values);
  return values;
}

export const DROPOUT_P = 0.3;
export const DROPOUT_STEP = 5;

/** A mask source for `layerName` at DROPOUT_STEP, and the multiplier the kernel applies to (rows, in) inputs. */
export function dropoutFor(
  gpu: Gpu,
  layerName: string,
  size: number,
): { mask: DropoutMask; inputMask: Float64Array } {
  const step = createTensor(gpu, "dropout.step", [1], new Uint32Array([DROPOUT_STEP]));
  const mask = { p: DROPOUT_P, step, stream: dropoutStream(5, layerName) };
  return { mask, inputMask: dropoutMultiplierCpu(mask.p, mask.stream, DROPOUT_STEP, size) };
}

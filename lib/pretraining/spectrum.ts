/**
 * The spectrum of the learned ΔW (paper §6.2, Figure 5, following ReLoRA): for each adapted matrix, the
 * singular values of ΔW = W_final − W_init, where W_final is the weight the model computes with at the end
 * (the base weight, into which ReLoRA/ReMoRA merged every earlier cycle, plus the live adapter's ΔW) and
 * W_init the random initialization. So ΔW is the sum of the merged parts and the live adapter, and for full
 * training it is everything training changed. Counted are the singular values above
 * {@link SINGULAR_VALUE_THRESHOLD}, averaged over layers per module type. The SVD is ml-matrix's (JAMA's
 * Golub–Kahan–Reinsch, float64), tested against matrices of known rank and spectrum.
 *
 * @module
 */

import { Matrix, SingularValueDecomposition } from "ml-matrix";
import { PROJECTIONS } from "../model/llama.ts";

/** The paper's threshold of a "significant" singular value (Figure 5). */
export const SINGULAR_VALUE_THRESHOLD = 0.1;

/** Leading singular values kept per module type (the chart of the leading values). */
export const LEADING_VALUES = 128;

/** Singular values of a row-major `rows × cols` matrix, in descending order. */
export function singularValues(values: ArrayLike<number>, rows: number, cols: number): number[] {
  if (values.length !== rows * cols) {
    throw new RangeError(`Cannot take the SVD of ${values.length} values as a ${rows}×${cols} matrix`);
  }
  const m = new Matrix(rows, cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) m.set(i, j, values[i * cols + j]!);
  }
  const svd = new SingularValueDecomposition(m, {
    computeLeftSingularVectors: false,
    computeRightSingularVectors: false,
    autoTranspose: true,
  });
  return [...svd.diagonal].sort((a, b) => b - a);
}

/** How many of `values` exceed `threshold`. */
export function countAbove(values: readonly number[], threshold = SINGULAR_VALUE_THRESHOLD): number {
  return values.filter((v) => v > threshold).length;
}

/** One module type's spectrum over the layers. */
export interface ModuleSpectrum {
  /** Projection name (q_proj … down_proj). */
  module: string;
  /** Singular values above the threshold, per layer. */
  counts: number[];
  /** Mean of `counts` (Figure 5's bar). */
  meanCount: number;
  /** The i-th largest singular value, averaged over layers, for the first {@link LEADING_VALUES}. */
  leading: number[];
}

/** ΔW of one adapted matrix, row-major (out × in). */
export interface MatrixDelta {
  /** Module path, `model.layers.N.self_attn.q_proj`. */
  path: string;
  rows: number;
  cols: number;
  delta: ArrayLike<number>;
}

/** The projection name a module path ends in. */
function moduleOf(path: string): string {
  const name = path.split(".").at(-1)!;
  if (!(PROJECTIONS as readonly string[]).includes(name)) {
    throw new RangeError(`Cannot group "${path}" by module type: it is not a block projection`);
  }
  return name;
}

/** Figure 5's data: per module type (in {@link PROJECTIONS} order), the counts over layers and leading values. */
export function moduleSpectra(deltas: readonly MatrixDelta[]): ModuleSpectrum[] {
  const byModule = new Map<string, number[][]>();
  for (const d of deltas) {
    const values = singularValues(d.delta, d.rows, d.cols);
    byModule.set(moduleOf(d.path), [...byModule.get(moduleOf(d.path)) ?? [], values]);
  }
  return PROJECTIONS.filter((p) => byModule.has(p)).map((module) => {
    const layers = byModule.get(module)!;
    const counts = layers.map((v) => countAbove(v));
    const k = Math.min(LEADING_VALUES, ...layers.map((v) => v.length));
    const leading = Array.from(
      { length: k },
      (_, i) => layers.reduce((a, v) => a + v[i]!, 0) / layers.length,
    );
    return { module, counts, meanCount: counts.reduce((a, b) => a + b, 0) / counts.length, leading };
  });
}

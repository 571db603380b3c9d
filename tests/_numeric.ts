/**
 * Numeric helpers shared by the tests: a seeded PRNG, an all-close assertion that reports the first
 * mismatch and the max error, and a float64 central-difference gradient check.
 *
 * @module
 */

import { AssertionError } from "node:assert/strict";
import { mulberry32 } from "../lib/random.ts";

/** A seeded PRNG for test data: `next()` is the project's {@link mulberry32}, uniform in [0, 1). */
export class Rng {
  readonly #uniform: () => number;
  /** @param seed any 32-bit integer */
  constructor(seed: number) {
    this.#uniform = mulberry32(seed);
  }
  /** Uniform in [0, 1). */
  next(): number {
    return this.#uniform();
  }
  /** Uniform in [lo, hi). */
  uniform(lo = -1, hi = 1): number {
    return lo + (hi - lo) * this.next();
  }
  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** Standard normal (Box-Muller). */
  normal(): number {
    const u = Math.max(this.next(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }
  /** A float32 array of `n` values uniform in [lo, hi). */
  floats(n: number, lo = -1, hi = 1): Float32Array<ArrayBuffer> {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.uniform(lo, hi);
    return out;
  }
}

/** Tolerance `|actual − expected| ≤ atol + rtol·|expected|` (llm.c `validate_result`, burn `Tolerance`). */
export interface Tolerance {
  /** Absolute part. */
  atol: number;
  /** Relative part. */
  rtol: number;
}

/** Largest absolute difference between two arrays of equal length. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/**
 * Asserts `actual` matches `expected` elementwise within `tol`; the message names the first mismatch,
 * the count of mismatches and the max abs difference.
 */
export function assertAllClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: Tolerance,
  what = "values",
): void {
  if (actual.length !== expected.length) {
    throw new AssertionError({ message: `${what}: length ${actual.length} != expected ${expected.length}` });
  }
  let first = -1;
  let bad = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    const ok = Math.abs(a - e) <= tol.atol + tol.rtol * Math.abs(e);
    if (!ok || Number.isNaN(a) !== Number.isNaN(e)) {
      bad++;
      if (first < 0) first = i;
    }
  }
  if (bad > 0) {
    throw new AssertionError({
      message: `${what}: ${bad} of ${actual.length} outside atol=${tol.atol} rtol=${tol.rtol}; first at ` +
        `[${first}]: got ${actual[first]}, expected ${expected[first]}; max abs diff ` +
        `${maxAbsDiff(actual, expected)}`,
    });
  }
}

/**
 * Central finite differences of a scalar function `f` (float64) with respect to every entry of `x`,
 * perturbing in place and restoring. Returns the numeric gradient.
 */
export function numericGradient(f: () => number, x: Float64Array, h = 1e-6): Float64Array {
  const grad = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const saved = x[i]!;
    x[i] = saved + h;
    const up = f();
    x[i] = saved - h;
    const down = f();
    x[i] = saved;
    grad[i] = (up - down) / (2 * h);
  }
  return grad;
}

/** Σ out·dout, the llm.c "fake loss" whose gradient w.r.t. out is dout. */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** A float64 array of `n` values uniform in [lo, hi). */
export function randomF64(rng: Rng, n: number, lo = -1, hi = 1): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.uniform(lo, hi);
  return out;
}

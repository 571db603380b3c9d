/**
 * Summaries over seeds and over timing trials. "±" in every table and band of the report is one sample
 * standard deviation over seeds (n − 1 in the denominator), next to the mean; {@link SD_MEANING} says so in
 * words. Timings, whose noise is skewed (a trial is only ever slowed down), are summarized by their median and
 * interquartile range instead ({@link medianIqr}; {@link IQR_MEANING}).
 *
 * @module
 */

/** What "±" means, for captions. */
export const SD_MEANING = "± is one sample standard deviation over seeds (n − 1), not a confidence interval";

/** Mean, sample standard deviation (0 for one value) and count. */
export function meanSd(values: readonly number[]): { mean: number; sd: number; n: number } {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const sd = n < 2 ? 0 : Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1));
  return { mean, sd, n };
}

/** `mean ± sd` of `values · scale` with `digits` decimals (the mean alone for one value). */
export function formatMeanSd(values: readonly number[], scale = 1, digits = 1): string {
  const { mean, sd, n } = meanSd(values);
  const m = (scale * mean).toFixed(digits);
  return n < 2 ? m : `${m} ± ${(scale * sd).toFixed(digits)}`;
}

/** What the spread of a timing means, for captions. */
export const IQR_MEANING = "median [first quartile – third quartile] over trials (linear interpolation)";

/** The `p`-quantile (0 ≤ p ≤ 1) of `values`, linearly interpolated between order statistics (R's type 7). */
export function quantile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new RangeError("Cannot take a quantile of no values");
  const sorted = [...values].sort((a, b) => a - b);
  const at = p * (sorted.length - 1);
  const lo = Math.floor(at), hi = Math.ceil(at);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (at - lo);
}

/** Median and quartiles of `values`. */
export interface MedianIqr {
  median: number;
  q1: number;
  q3: number;
}

/** The median and the first and third quartiles of `values`. */
export function medianIqr(values: readonly number[]): MedianIqr {
  return { median: quantile(values, 0.5), q1: quantile(values, 0.25), q3: quantile(values, 0.75) };
}

/** `median [q1–q3]` with `digits` decimals. */
export function formatMedianIqr({ median, q1, q3 }: MedianIqr, digits = 2): string {
  return `${median.toFixed(digits)} [${q1.toFixed(digits)}–${q3.toFixed(digits)}]`;
}

/**
 * The ratios a[i] / b[i] of two series measured in interleaved rounds (round i of a next to round i of b, so
 * that drift of the machine hits both alike), summarized by {@link medianIqr}.
 *
 * @throws {RangeError} when the series differ in length or are empty.
 */
export function pairedRatio(a: readonly number[], b: readonly number[]): MedianIqr {
  if (a.length !== b.length || a.length === 0) {
    throw new RangeError(
      `Cannot pair ${a.length} trials with ${b.length}: interleaved series have equal lengths`,
    );
  }
  return medianIqr(a.map((x, i) => x / b[i]!));
}

/**
 * Whether a ratio meets an upper bound: `"met"` when its third quartile is at most the bound, `"missed"` when
 * its first quartile is above it, and `"inconclusive"` when the spread crosses it.
 */
export function verdictAtMost(ratio: MedianIqr, bound: number): "met" | "missed" | "inconclusive" {
  if (ratio.q3 <= bound) return "met";
  if (ratio.q1 > bound) return "missed";
  return "inconclusive";
}

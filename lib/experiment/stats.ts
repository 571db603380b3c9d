/**
 * Summaries over seeds. "±" in every table and band of the report is one sample standard deviation over
 * seeds (n − 1 in the denominator), next to the mean; {@link SD_MEANING} says so in words.
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

/**
 * The math analog's finer measure, for where exact match sits at its floor: the perplexity of the held-out
 * problems' worked solutions under teacher forcing (`solutionPerplexity` of a record). It shows how much of the
 * solutions' format and arithmetic a run took in; it is not the paper's metric and cannot tell whether a model
 * would finish a problem. These are the plain statements the Table 2 and Table 4 sections make from it. Pure.
 *
 * @module
 */

import { meanSd } from "../experiment/stats.ts";

/**
 * Perplexities within this fraction of each other are noise. Fixed before any run was scored on it: about
 * the largest seed-to-seed sd, relative to the mean, of the domains' held-out perplexity at the quick preset
 * (0.2–4% over 26 groups of three seeds).
 */
export const PPL_MARGIN = 0.05;

/** The margin in words, for the statements. */
const MARGIN_WORDS = `${100 * PPL_MARGIN}% (the fixed noise margin)`;

/**
 * Whether perplexities `a` are higher (worse) than `b` by more than {@link PPL_MARGIN} and, with two or more
 * seeds each, by more than their summed sds; lower by the same; or within.
 */
export function comparePerplexity(a: readonly number[], b: readonly number[]): "higher" | "lower" | "within" {
  const x = meanSd(a), y = meanSd(b);
  const noise = x.n >= 2 && y.n >= 2 ? x.sd + y.sd : 0;
  if (x.mean > y.mean * (1 + PPL_MARGIN) && x.mean - y.mean > noise) return "higher";
  if (y.mean > x.mean * (1 + PPL_MARGIN) && y.mean - x.mean > noise) return "lower";
  return "within";
}

const ppl = (v: readonly number[]) => meanSd(v).mean.toFixed(2);

/** One method's solution perplexities at the small and large rank. */
export interface RankPair {
  label: string;
  small: readonly number[];
  large: readonly number[];
}

/**
 * The paper's math claim (rank 8 falls short of FFT, rank 256 closes the gap) read on solution perplexity:
 * for each method, whether its small rank is above FFT, its large rank below its small rank, and its large
 * rank within the margin of FFT. It agrees when most methods fall short at the small rank and close the gap at
 * the large; it partly agrees when most narrow the gap without closing it, and disagrees when at most half
 * narrow it.
 */
export function mathPerplexityClaim(
  column: string,
  fft: readonly number[],
  methods: readonly RankPair[],
): string {
  const short = methods.filter((m) => comparePerplexity(m.small, fft) === "higher");
  const narrows = methods.filter((m) => comparePerplexity(m.large, m.small) === "lower");
  const closes = methods.filter((m) => comparePerplexity(m.large, fft) !== "higher");
  const most = (ms: readonly RankPair[]) => ms.length > methods.length / 2;
  const verdict = !most(short)
    ? "<b>Most small-rank runs are not above FFT, which disagrees with the paper's claim.</b>"
    : most(closes) && most(narrows)
    ? "This agrees with the paper's claim."
    : most(narrows)
    ? "<b>It partly agrees: the large rank narrows the gap but does not close it.</b>"
    : `<b>The large rank narrows the gap for only ${narrows.length} of ${methods.length} methods and closes ` +
      `it for ${closes.length}, which disagrees with the paper's claim.</b>`;
  return `On the held-out solution perplexity (${column}-like tier; lower is better; a finer measure than ` +
    `exact match, not the paper's metric): FFT ${ppl(fft)}, ${
      methods.map((m) => `${m.label} ${ppl(m.small)} → ${ppl(m.large)}`).join(", ")
    }. The small rank is above FFT by more than ${MARGIN_WORDS} for ${short.length} of ${methods.length} ` +
    `methods, the large rank below the small for ${narrows.length} and within the margin of FFT for ` +
    `${closes.length}. ${verdict}`;
}

/** The paper's operator ranking at r = 8 as pairwise claims: the first operator is worse than the second. */
const WORSE_THAN: readonly [string, string][] = [
  ["sharing", "rotation"],
  ["sharing", "decouple"],
  ["truncation", "sharing"],
];

/**
 * The paper's operator ranking (rotation ≥ decouple > sharing ≫ truncation) read on solution perplexity at the
 * small rank, one pairwise claim at a time: it agrees when every pair holds beyond the margin, disagrees when
 * any is reversed beyond it, and does not show the ranking otherwise. Undefined without all four operators.
 */
export function operatorPerplexityClaim(
  rank: number,
  of: (variant: string) => readonly number[],
): string | undefined {
  const variants = ["rotation", "decouple", "sharing", "truncation"];
  if (variants.some((v) => of(v).length === 0)) return undefined;
  const pairs = WORSE_THAN.map(([worse, better]) => ({
    worse,
    better,
    c: comparePerplexity(of(worse), of(better)),
  }));
  const reversed = pairs.filter((p) => p.c === "lower");
  const held = pairs.filter((p) => p.c === "higher");
  const verdict = reversed.length
    ? `<b>Reversed: ${reversed.map((p) => `${p.worse} is below ${p.better}`).join(", ")}, which disagrees ` +
      `with the paper's ranking.</b>`
    : held.length === pairs.length
    ? "Every pair holds, which agrees with the paper's ranking."
    : `<b>${pairs.length - held.length} of ${pairs.length} pairs are within the margin, so our analog does ` +
      `not show the paper's ranking.</b>`;
  return `On the held-out solution perplexity (GSM8K-like tier, lower is better, not the paper's metric) at ` +
    `r = ${rank}: ${variants.map((v) => `${v} ${ppl(of(v))}`).join(", ")}. The paper's ranking as pairs: ${
      pairs.map((p) =>
        `${p.worse} above ${p.better} ${
          p.c === "higher" ? "holds" : p.c === "lower" ? "is reversed" : "is within the margin"
        }`
      )
        .join("; ")
    } (margin ${MARGIN_WORDS}). ${verdict}`;
}

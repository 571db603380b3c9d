/**
 * What the two fine-tuning sections (Table 2, `lib/report/finetune_section.ts`; Table 4,
 * `lib/report/ablation_section.ts`) share: the paper's method names and ranks, row labels, scores over seeds,
 * the untrained base's row, the noise margin and the statements made from it, and the search and failure
 * tables. Pure.
 *
 * @module
 */

import { chooseRate, finalTrainingLoss, SELECTION_RULE } from "../experiment/lr_search.ts";
import { formatMeanSd, meanSd } from "../experiment/stats.ts";
import type { FinetuneRunRecord } from "../records.ts";
import type { Cell, ReportTable } from "./model.ts";

/** The paper's name of each method. */
export const PAPER_METHOD: Record<string, string> = {
  fft: "FFT",
  lora: "LoRA",
  "lora+": "LoRA+",
  relora: "ReLoRA",
  asylora: "AsyLoRA",
  dora: "DoRA",
  mora: "MoRA",
};
/** The paper's ranks, which our small and large rank stand for. */
export const PAPER_RANKS = [8, 256];

/** Our ranks, sorted (the smaller stands for the paper's 8, the larger for 256). */
export function ranksOf(records: readonly FinetuneRunRecord[]): number[] {
  return [...new Set(records.flatMap((r) => r.spec.rank ?? []))].sort((a, b) => a - b);
}

/** The paper rank (8 or 256) our `rank` stands for, when there are two ranks. */
export function paperRank(rank: number, ranks: readonly number[]): number | undefined {
  return ranks.length === 2 ? PAPER_RANKS[ranks.indexOf(rank)] : undefined;
}

/** `LoRA r=1 (paper r=8)`, `MoRA r=1 (rotation)`, `FFT`. */
export function rowLabel(
  method: string,
  rank: number | null,
  ranks: readonly number[],
  variant?: string,
): string {
  const name = PAPER_METHOD[method] ?? method;
  if (rank === null) return name;
  const paper = paperRank(rank, ranks);
  return `${name} r=${rank}${paper ? ` (paper r=${paper})` : ""}${variant ? ` [${variant}]` : ""}`;
}

/** Scores of one column over the seeds of a (method, rank, variant). */
export function scores(
  records: readonly FinetuneRunRecord[],
  column: string,
  pick: (r: FinetuneRunRecord) => boolean,
) {
  return records.filter((r) => pick(r) && r.scores[column] !== undefined).map((r) => r.scores[column]!);
}

/** Label of the untrained base's row. */
export const BASE_ROW = "Base, not fine-tuned (the floor)";

/** What the solution perplexity is, for captions. */
export const SOLUTION_MEANING =
  "perplexity of the held-out problems' worked solutions under teacher forcing (lower " +
  "is better): a finer measure of how much of the solutions' format and arithmetic a run took in than exact " +
  "match, which it does not replace (the paper reports exact match only)";

/** The search: each group's grid (criterion per rate) and the rate chosen. */
export function searchTable(search: readonly FinetuneRunRecord[]): ReportTable {
  const groups = new Map<string, FinetuneRunRecord[]>();
  for (const r of search) {
    const key = `${r.spec.task}|${r.spec.method}|${r.spec.rank}|${r.spec.variant ?? ""}`;
    groups.set(key, [...groups.get(key) ?? [], r]);
  }
  const ranks = ranksOf(search);
  const rows: Cell[][] = [...groups.values()].map((runs) => {
    const sorted = [...runs].sort((a, b) => a.spec.lr - b.spec.lr);
    const grid = sorted.map((r) => ({
      lr: r.spec.lr,
      status: r.status,
      criterion: finalTrainingLoss(r.losses),
    }));
    const points = grid.map((p) => `${p.lr}: ${p.status === "ok" ? p.criterion.toFixed(3) : p.status}`);
    const s = runs[0]!.spec;
    const chosen = chooseRate(grid);
    const edge = grid.length > 2 && (chosen === grid[0]!.lr || chosen === grid.at(-1)!.lr);
    return [
      s.task,
      rowLabel(s.method, s.rank, ranks, s.variant),
      points.join(" · "),
      chosen === undefined ? "none" : edge ? `${chosen} (grid edge)` : chosen,
    ];
  });
  return {
    caption:
      `Learning-rate search on seed ${search[0]?.spec.seed}: final training loss at each rate; the rule: ` +
      `${SELECTION_RULE}. A choice at either end of the grid is marked: a better rate may lie beyond it.`,
    columns: ["Task", "Method", "Rate: final training loss", "Chosen"],
    rows,
  };
}

/** The runs that diverged or did not learn, as a table; undefined when none did. */
export function failureTable(records: readonly FinetuneRunRecord[]): ReportTable | undefined {
  const failed = records.filter((r) => r.status !== "ok");
  if (failed.length === 0) return undefined;
  return {
    caption: "Runs that diverged or did not learn (recorded, not averaged).",
    columns: ["Run", "Status", "What happened"],
    rows: failed.map((r) => [r.id, r.status, r.failure ?? ""]),
  };
}

/**
 * Scores this close together (fractions) are noise, not a ranking: a margin fixed before the runs, one or two
 * held-out items at the quick sizes of instruction and math (48 questions, 32 problems), 7 of the domains'
 * 144 cloze items.
 */
export const FLOOR_SPREAD = 0.05;

/**
 * Whether the scores are all the same up to {@link FLOOR_SPREAD} (0% but for a problem or two, or one constant
 * answer): then the analog cannot rank anything.
 */
export function atFloor(values: readonly number[]): boolean {
  return values.length > 0 && Math.max(...values) - Math.min(...values) <= FLOOR_SPREAD;
}

/** The statement that a column at its floor tests nothing. */
export const FLOOR =
  "<b>These runs all score within 5 points of each other (the fixed noise margin): at this " +
  "scale this score does not separate the methods and cannot test the claim (neither agreement nor " +
  "disagreement).</b>";

/** Scores as a mean ± sd cell in percent, or an empty cell. */
export const pctCell = (v: readonly number[]): Cell => v.length ? formatMeanSd(v, 100) : null;

/** The mean of scores, in percent with one decimal. */
export const pct = (v: readonly number[]) => (100 * meanSd(v).mean).toFixed(1);

/**
 * Unless the best of `runs` (each a row's scores over seeds) rises more than {@link FLOOR_SPREAD} above the
 * untrained base's score `base`, a sentence saying that the column tests nothing: fine-tuning taught nothing it
 * measures. Undefined when it did, or when the base was not scored.
 */
export function noGainOverBase(
  base: readonly number[],
  runs: readonly { label: string; scores: readonly number[] }[],
): string | undefined {
  const scored = runs.filter((r) => r.scores.length > 0);
  if (base.length === 0 || scored.length === 0) return undefined;
  const best = Math.max(...scored.map((r) => meanSd(r.scores).mean));
  if (best - meanSd(base).mean > FLOOR_SPREAD) return undefined;
  return `<b>The untrained base scores ${pct(base)}% and ${
    scored.map((r) => `${r.label} ${pct(r.scores)}%`).join(", ")
  }: no run rises more than 5 points (the fixed noise margin) above the base, so fine-tuning taught ` +
    `nothing this column measures and at this scale it cannot test the claim (neither agreement nor ` +
    `disagreement).</b>`;
}

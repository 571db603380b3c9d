/**
 * The MoRA operator ablation section (paper §6.1, Table 4): MoRA with each of its four compress/decompress
 * operators at both ranks on the math analog, in the paper's layout beside its numbers, with the held-out
 * solution perplexity as a finer measure, charts of both, and plain statements of whether our order agrees
 * with the paper's ranking. Pure.
 *
 * @module
 */

import { formatMeanSd, meanSd, SD_MEANING } from "../experiment/stats.ts";
import { FINETUNE_TASKS } from "../finetune/tasks.ts";
import type { Environment } from "../harness/env.ts";
import { paperResults } from "../paper/results.ts";
import type { FinetuneRunRecord } from "../records.ts";
import { barChart, type Datum } from "./charts.ts";
import {
  atFloor,
  BASE_ROW,
  failureTable,
  FLOOR,
  noGainOverBase,
  PAPER_RANKS,
  pct,
  pctCell,
  ranksOf,
  scores,
  searchTable,
  SOLUTION_MEANING,
} from "./finetune_common.ts";
import { escapeHtml } from "./html.ts";
import type { Cell, ReportChart, ReportSection, ReportTable } from "./model.ts";
import { operatorPerplexityClaim } from "./solution_perplexity.ts";

const PAPER_TABLE4 = paperResults.table4_compression_ablation_gsm8k;
/** Table 4's operators on the solution perplexity, by rank and tier; none when no run has it. */
function solutionTable4(
  variants: readonly string[],
  ranks: readonly number[],
  untrained: readonly FinetuneRunRecord[],
  solvedOf: (variant: string, rank: number, column: string) => number[],
): ReportTable[] {
  const tiers = ["GSM8K", "MATH"];
  const cell = (v: readonly number[]) => v.length ? formatMeanSd(v, 1, 2) : null;
  const rows = variants.map((v) => [
    `${v} (Eq. ${EQUATIONS[v]})`,
    ...ranks.flatMap((rank) => tiers.map((c) => cell(solvedOf(v, rank, c)))),
  ]);
  if (rows.every((row) => row.slice(1).every((c) => c === null))) return [];
  const base = tiers.map((c) => cell(untrained.flatMap((r) => r.solutionPerplexity?.[c] ?? [])));
  return [{
    caption: `Table 4 analog, finer measure: ${SOLUTION_MEANING}; mean ± sd over seeds.`,
    columns: ["Operator", ...ranks.flatMap((rank) => tiers.map((c) => `r=${rank} ${c}-like tier`))],
    rows: [...base.some((c) => c !== null) ? [[BASE_ROW, ...ranks.flatMap(() => base)]] : [], ...rows],
  }];
}

const EQUATIONS: Record<string, number> = Object.fromEntries(PAPER_TABLE4.rows.map((r) => [r.variant, r.eq]));

/** The Table 4 section. */
export function ablationSection(records: readonly FinetuneRunRecord[], env: Environment): ReportSection {
  const presetName = records[0]?.spec.preset ?? "quick";
  const reported = records.filter((r) => r.role === "reported" && r.status === "ok");
  const untrained = records.filter((r) => r.role === "base" && r.spec.task === "math");
  const search = records.filter((r) => r.role === "lr-search");
  const ranks = ranksOf(records);
  const variants = PAPER_TABLE4.rows.map((r) => r.variant).filter((v) =>
    records.some((r) => r.spec.variant === v)
  );
  const of = (variant: string, rank: number, column: string) =>
    scores(reported, column, (r) => r.spec.variant === variant && r.spec.rank === rank);
  const solvedOf = (variant: string, rank: number, column: string) =>
    reported.filter((r) => r.spec.variant === variant && r.spec.rank === rank)
      .flatMap((r) => r.solutionPerplexity?.[column] ?? []);
  const baseOf = (column: string) => scores(untrained, column, () => true);
  const baseRow: Cell[][] = untrained.length
    ? [[BASE_ROW, ...ranks.flatMap(() => [pctCell(baseOf("GSM8K")), null, pctCell(baseOf("MATH"))])]]
    : [];
  const rows: Cell[][] = variants.map((v) => {
    const paper = PAPER_TABLE4.rows.find((r) => r.variant === v)!;
    return [
      `${v} (Eq. ${EQUATIONS[v]})`,
      ...ranks.flatMap((rank, i) => [
        pctCell(of(v, rank, "GSM8K")),
        ranks.length === 2 ? paper.acc[i] ?? null : null,
        pctCell(of(v, rank, "MATH")),
      ]),
    ];
  });
  const analog = FINETUNE_TASKS.math!.analog;
  const small = ranks[0];
  const order = small === undefined
    ? []
    : [...variants].sort((a, b) => meanSd(of(b, small, "GSM8K")).mean - meanSd(of(a, small, "GSM8K")).mean);
  const agrees = order.join(" > ") === "rotation > decouple > sharing > truncation" ||
    order.join(" > ") === "decouple > rotation > sharing > truncation";
  const noGain = small === undefined ? undefined : noGainOverBase(
    baseOf("GSM8K"),
    variants.map((v) => ({ label: v, scores: of(v, small, "GSM8K") })),
  );
  const floor = small !== undefined && atFloor(variants.flatMap((v) => of(v, small, "GSM8K")));
  const claim = noGain || floor
    ? `<p>The paper ranks the operators at r = 8 as rotation ≥ decouple > sharing ≫ truncation. ${
      noGain ?? FLOOR
    }</p>`
    : order.length === 4
    ? `<p>The paper ranks the operators at r = 8 as rotation ≥ decouple > sharing ≫ truncation. On our ` +
      `GSM8K-like analog at r = ${small} the means order as ${
        order.map((v) => `${v} ${pct(of(v, small!, "GSM8K"))}%`).join(" > ")
      }: ` +
      (agrees
        ? "the same order (see the sds before reading much into gaps)."
        : "<b>a different order, which disagrees with the paper's ranking.</b>") +
      "</p>"
    : "";
  const proxy = small === undefined
    ? undefined
    : operatorPerplexityClaim(small, (v) => solvedOf(v, small, "GSM8K"));
  const failures = failureTable(records);
  return {
    id: "ablation",
    title: "MoRA's compress/decompress operators (paper Table 4)",
    intro:
      `<p>MoRA with each of its four operators (truncation Eq. 4, sharing Eq. 6, decouple Eq. 8, rotation ` +
      `Eq. 9) at both ranks on the math task (paper §6.1, Table 4, on GSM8K), preset <b>${
        escapeHtml(presetName)
      }</b> ` +
      `on <b>${escapeHtml(env.adapter.description)}</b>. Ours is the <b>${escapeHtml(analog)}</b> analog ` +
      `(exact match of the final answer, greedy generation, held-out problems); each operator at its own ` +
      `searched rate.</p>${claim}${proxy ? `<p>${proxy}</p>` : ""}`,
    tables: [
      {
        caption:
          `Table 4, ours beside the paper's: accuracy (%), mean ± sd over seeds (${SD_MEANING}); the first ` +
          `row is the base itself, not fine-tuned. Our ` +
          `ranks ${ranks.join(" and ")} stand for the paper's 8 and 256; the paper reports GSM8K only.`,
        columns: [
          "Operator",
          ...ranks.flatMap((rank, i) => [
            `r=${rank} ours (GSM8K-like analog)`,
            `r=${ranks.length === 2 ? PAPER_RANKS[i] : "?"} paper (GSM8K)`,
            `r=${rank} ours (MATH-like analog)`,
          ]),
        ],
        rows: [...baseRow, ...rows],
      },
      ...solutionTable4(variants, ranks, untrained, solvedOf),
      ...search.length ? [searchTable(search)] : [],
      ...failures ? [failures] : [],
    ],
    charts: [
      operatorChart(variants, ranks, {
        name: "ablation-operators",
        title: "Table 4 analog: GSM8K-like accuracy (%) by MoRA operator and rank, mean over seeds",
        axis: "Accuracy (%)",
        of: (v, rank) => of(v, rank, "GSM8K").map((x) => 100 * x),
      }),
      operatorChart(variants, ranks, {
        name: "ablation-operators-solution-perplexity",
        title: "Table 4 analog: GSM8K-like held-out solution perplexity (lower is better; not the paper's " +
          "metric) by MoRA operator and rank, mean over seeds",
        axis: "Solution perplexity",
        of: (v, rank) => solvedOf(v, rank, "GSM8K"),
      }),
    ].flatMap((c) => c ?? []),
  };
}

/** Bars of a measure's mean over seeds against MoRA operator, grouped by rank; undefined with no values. */
function operatorChart(
  variants: readonly string[],
  ranks: readonly number[],
  o: { name: string; title: string; axis: string; of: (variant: string, rank: number) => number[] },
): ReportChart | undefined {
  const values: Datum[] = variants.flatMap((v) =>
    ranks.flatMap((rank) => {
      const x = o.of(v, rank);
      return x.length ? [{ operator: v, rank: `r=${rank}`, value: meanSd(x).mean }] : [];
    })
  );
  if (values.length === 0) return undefined;
  return {
    name: o.name,
    spec: barChart({
      title: o.title,
      values,
      category: { field: "operator", title: "Operator", sort: [...variants] },
      value: { field: "value", title: o.axis, type: "quantitative" },
      group: { field: "rank", title: "Rank" },
    }),
  };
}

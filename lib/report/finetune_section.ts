/**
 * The fine-tuning section (paper §5.2, Table 2): every method at the small and large rank on the four tasks, in
 * the paper's layout with the paper's numbers beside ours and the analog named in each column header; what
 * each analog stands for and cannot tell; the domains' perplexity and the math analog's solution perplexity;
 * the learning-rate search; a chart per task column of score against method at both ranks; and plain
 * statements of where our analogs agree or disagree with the paper's claims. Table 4 is
 * `lib/report/ablation_section.ts`. Pure.
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
  FLOOR_SPREAD,
  noGainOverBase,
  PAPER_METHOD,
  paperRank,
  pct,
  pctCell,
  ranksOf,
  rowLabel,
  scores,
  searchTable,
  SOLUTION_MEANING,
} from "./finetune_common.ts";
import { escapeHtml } from "./html.ts";
import type { Cell, ReportChart, ReportSection, ReportTable } from "./model.ts";
import { mathPerplexityClaim } from "./solution_perplexity.ts";

const PAPER_TABLE2 = paperResults.table2_finetuning;
/** Each paper column, the task whose score it is, and the analog's name. */
function columnTasks(): { column: string; task: string; analog: string }[] {
  return PAPER_TABLE2.columns.map((column) => {
    const task = Object.values(FINETUNE_TASKS).find((t) => t.paperColumns.includes(column))!;
    return { column, task: task.name, analog: task.analog };
  });
}

/** Solution perplexities of one math column over the seeds of a (method, rank). */
function solved(records: readonly FinetuneRunRecord[], method: string, rank: number | null, column: string) {
  return records.filter((r) => r.spec.method === method && r.spec.rank === rank)
    .flatMap((r) => r.solutionPerplexity?.[column] ?? []);
}

/** The paper's Table 2 row of a method at a paper rank. */
function paperRow(method: string, rank: number | null) {
  return PAPER_TABLE2.rows.find((row) => row.method === PAPER_METHOD[method] && row.rank === rank);
}

/** The (method, rank, variant) rows of Table 2 in the paper's order: FFT, then each rank's methods. */
function table2Rows(reported: readonly FinetuneRunRecord[]) {
  const ranks = ranksOf(reported);
  const methods = Object.keys(PAPER_METHOD).filter((m) => reported.some((r) => r.spec.method === m));
  const extra = [...new Set(reported.map((r) => r.spec.method))].filter((m) => !methods.includes(m));
  const rows: { method: string; rank: number | null }[] = [];
  for (const m of [...methods, ...extra]) {
    if (reported.some((r) => r.spec.method === m && r.spec.rank === null)) {
      rows.push({ method: m, rank: null });
    }
  }
  for (const rank of ranks) {
    for (const m of [...methods, ...extra]) {
      if (reported.some((r) => r.spec.method === m && r.spec.rank === rank)) rows.push({ method: m, rank });
    }
  }
  return rows.map((row) => ({
    ...row,
    variant: reported.find((r) => r.spec.method === row.method && r.spec.rank === row.rank)?.spec.variant,
    pick: (r: FinetuneRunRecord) => r.spec.method === row.method && r.spec.rank === row.rank,
  }));
}

/**
 * Runs per column of a row: one number when every scored column has as many, else each column's count in
 * order (`1/1/3/3`; `–` for an unscored column).
 */
export function seedCounts(counts: readonly number[]): number | string {
  const scored = counts.filter((n) => n > 0);
  if (new Set(scored).size <= 1) return scored[0] ?? 0;
  return counts.map((n) => n > 0 ? String(n) : "–").join("/");
}

function table2(
  reported: readonly FinetuneRunRecord[],
  untrained: readonly FinetuneRunRecord[],
): ReportTable {
  const ranks = ranksOf(reported);
  const columns = columnTasks();
  const baseRow: Cell[][] = untrained.length
    ? [[
      BASE_ROW,
      ...columns.flatMap((c) => {
        return [pctCell(scores(untrained, c.column, () => true)), null];
      }),
      "–",
    ]]
    : [];
  const rows: Cell[][] = table2Rows(reported).map((row) => {
    const paper = paperRow(row.method, row.rank === null ? null : paperRank(row.rank, ranks) ?? -1);
    return [
      rowLabel(row.method, row.rank, ranks, row.variant),
      ...columns.flatMap((c, i) => {
        const ours = scores(reported, c.column, row.pick);
        return [pctCell(ours), paper?.scores[i] ?? null];
      }),
      seedCounts(columns.map((c) => scores(reported, c.column, row.pick).length)),
    ];
  });
  return {
    caption:
      `Table 2, ours beside the paper's. Ours: accuracy (%) on each task's held-out items, each run at ` +
      `the rate its own search chose; mean ± sd over seeds (${SD_MEANING}); "seeds" counts each row's runs, ` +
      `per column in column order where the columns differ (a preset may give a family more seeds). The ` +
      `first row is the base ` +
      `itself, not fine-tuned: a run that does not rise above it learned nothing the column measures. The ` +
      `paper's: LLaMA-2 7B on the ` +
      `real benchmarks. Each column header names our analog; the analogs are CPU-scale stand-ins, so compare ` +
      `trends (who is ahead, does rank matter), not values.`,
    columns: [
      "Method",
      ...columns.flatMap((c) => [`${c.column} ours (${c.analog})`, `${c.column} paper`]),
      "seeds",
    ],
    rows: [...baseRow, ...rows],
  };
}

/** A column of a {@link measureTable}: its header and the value a record gives it (undefined: not this column). */
interface MeasureColumn {
  header: string;
  value: (r: FinetuneRunRecord) => number | undefined;
}

/**
 * A mean ± sd table of one measure: the untrained base's row, then Table 2's rows of the records that have
 * it; undefined when none has.
 */
function measureTable(
  caption: string,
  reported: readonly FinetuneRunRecord[],
  untrained: readonly FinetuneRunRecord[],
  columns: readonly MeasureColumn[],
): ReportTable | undefined {
  const has = (r: FinetuneRunRecord) => columns.some((c) => c.value(r) !== undefined);
  const measured = reported.filter(has);
  if (measured.length === 0) return undefined;
  const ranks = ranksOf(reported);
  const cells = (rs: readonly FinetuneRunRecord[]) =>
    columns.map((c) => {
      const v = rs.flatMap((r) => c.value(r) ?? []);
      return v.length ? formatMeanSd(v, 1, 2) : null;
    });
  return {
    caption,
    columns: ["Method", ...columns.map((c) => c.header)],
    rows: [
      ...untrained.some(has) ? [[BASE_ROW, ...cells(untrained)]] : [],
      ...table2Rows(measured).map((row) => [
        rowLabel(row.method, row.rank, ranks, row.variant),
        ...cells(measured.filter(row.pick)),
      ]),
    ],
  };
}

function perplexityTable(reported: readonly FinetuneRunRecord[], untrained: readonly FinetuneRunRecord[]) {
  const tasks = [...new Set(reported.filter((r) => r.perplexity !== undefined).map((r) => r.spec.task))];
  return measureTable(
    `Continual-pretraining analogs: perplexity of held-out domain documents (lower is better), ` +
      `mean ± sd over seeds. The paper reports no perplexity for these tasks.`,
    reported,
    untrained,
    tasks.map((t) => ({
      header: `${t} perplexity (${FINETUNE_TASKS[t]?.analog ?? t})`,
      value: (r) => r.spec.task === t ? r.perplexity : undefined,
    })),
  );
}

/** The math tiers' solution-perplexity columns, by paper column. */
const SOLUTION_COLUMNS: readonly MeasureColumn[] = ["GSM8K", "MATH"].map((column) => ({
  header: `${column}-like tier: solution perplexity`,
  value: (r) => r.solutionPerplexity?.[column],
}));

function solutionTable(reported: readonly FinetuneRunRecord[], untrained: readonly FinetuneRunRecord[]) {
  return measureTable(
    `Math analog: ${SOLUTION_MEANING}; mean ± sd over seeds.`,
    reported,
    untrained,
    SOLUTION_COLUMNS,
  );
}

function analogTable(tasks: readonly string[]): ReportTable {
  return {
    caption: "The analogs: which paper column each stands for, why it tests the same property, and what it " +
      "cannot tell.",
    columns: ["Task", "Paper columns", "Analog", "Why it tests the same property", "What it cannot tell"],
    rows: tasks.map((t) => FINETUNE_TASKS[t]!).map((
      t,
    ) => [t.name, t.paperColumns.join(", "), t.analog, t.why, t.cannot]),
  };
}

/** Bars of a measure's mean over seeds against method, grouped by rank. */
function methodChart(
  reported: readonly FinetuneRunRecord[],
  o: { name: string; title: string; axis: string; of: (rs: readonly FinetuneRunRecord[]) => number[] },
): ReportChart {
  const ranks = ranksOf(reported);
  const values: Datum[] = table2Rows(reported).flatMap((row) => {
    const v = o.of(reported.filter(row.pick));
    if (v.length === 0) return [];
    const rank = row.rank === null
      ? "full"
      : `r=${row.rank}${paperRank(row.rank, ranks) ? ` (paper ${paperRank(row.rank, ranks)})` : ""}`;
    return [{ method: PAPER_METHOD[row.method] ?? row.method, rank, value: meanSd(v).mean, seeds: v.length }];
  });
  return {
    name: o.name,
    spec: barChart({
      title: o.title,
      values,
      category: { field: "method", title: "Method" },
      value: { field: "value", title: o.axis, type: "quantitative" },
      group: { field: "rank", title: "Rank" },
    }),
  };
}

/** Bars of a column's mean score against method, grouped by rank. */
function columnChart(reported: readonly FinetuneRunRecord[], column: string, analog: string): ReportChart {
  return methodChart(reported, {
    name: `finetune-${column.toLowerCase()}`,
    title: `${column} analog (${analog}): accuracy (%) by method and rank, mean over seeds`,
    axis: "Accuracy (%)",
    of: (rs) => scores(rs, column, () => true).map((v) => 100 * v),
  });
}

/** Bars of the GSM8K-like tier's solution perplexity against method; none when no run has it. */
function solutionChart(reported: readonly FinetuneRunRecord[]): ReportChart[] {
  const of = (rs: readonly FinetuneRunRecord[]) => rs.flatMap((r) => r.solutionPerplexity?.GSM8K ?? []);
  if (of(reported).length === 0) return [];
  return [methodChart(reported, {
    name: "finetune-gsm8k-solution-perplexity",
    title: "GSM8K-like tier: held-out solution perplexity (lower is better; not the paper's metric) by " +
      "method and rank, mean over seeds",
    axis: "Solution perplexity",
    of,
  })];
}

/** Whether mean a is above b beyond their summed sds, below, or within. */
function compare(a: readonly number[], b: readonly number[]): "above" | "below" | "within" {
  const x = meanSd(a), y = meanSd(b);
  const gap = x.mean - y.mean, noise = x.sd + y.sd;
  if (x.n < 2 || y.n < 2) return gap > 0 ? "above" : gap < 0 ? "below" : "within";
  return gap > noise ? "above" : gap < -noise ? "below" : "within";
}

/** Plain statements of each Table 2 claim, from our numbers. */
function claims(reported: readonly FinetuneRunRecord[], untrained: readonly FinetuneRunRecord[]): string {
  const ranks = ranksOf(reported);
  const of = (method: string, rank: number | null, column: string) =>
    scores(reported, column, (r) => r.spec.method === method && r.spec.rank === rank);
  const fft = (column: string) => of("fft", null, column);
  const base = (column: string) => scores(untrained, column, () => true);
  const fftGain = (column: string) => noGainOverBase(base(column), [{ label: "FFT", scores: fft(column) }]);
  const adapters = Object.keys(PAPER_METHOD).filter((m) => m !== "fft");
  const lines: string[] = [];
  const single = [...new Set(reported.flatMap((r) => Object.keys(r.scores)))].filter((column) =>
    !reported.some((r) => r.spec.seed > 0 && r.scores[column] !== undefined)
  );
  const seedNote = single.length === 0
    ? ""
    : ` With one seed there is no sd: a gap is a gap (${single.join(", ")}).`;
  for (const column of ["MMLU0", "MMLU5"]) {
    if (fft(column).length === 0) continue;
    const rows = ranks.flatMap((rank) =>
      adapters.filter((m) => of(m, rank, column).length).map((m) => ({ m, rank }))
    );
    const below = rows.filter((x) => compare(of(x.m, x.rank, column), fft(column)) === "below");
    lines.push(
      `<b>Instruction (${column}):</b> the paper finds LoRA-like methods match FFT. On our analog ` +
        `${rows.length - below.length} of ${rows.length} adapter rows are not below FFT (${
          pct(fft(column))
        }%) ` +
        `beyond the sds; ${
          below.length
            ? `below it: ${below.map((x) => rowLabel(x.m, x.rank, ranks)).join(", ")}`
            : "none is below it"
        }. ` +
        (fftGain(column) ??
          (atFloor([...fft(column), ...rows.flatMap((x) => of(x.m, x.rank, column))])
            ? FLOOR
            : below.length > rows.length / 2
            ? "<b>This disagrees with the paper's claim.</b>"
            : "This agrees with the paper's claim.")),
    );
  }
  if (ranks.length === 2) {
    const [small, large] = ranks as [number, number];
    for (const column of ["GSM8K", "MATH"]) {
      const both = adapters.filter((m) => of(m, small, column).length && of(m, large, column).length);
      if (both.length === 0) continue;
      const closes = both.filter((m) => compare(of(m, large, column), of(m, small, column)) === "above");
      lines.push(
        `<b>Math (${column}):</b> the paper finds rank 8 falls short of FFT and rank 256 closes the gap. On our ` +
          `analog the large rank is above the small rank beyond the sds for ${closes.length} of ${both.length} ` +
          `methods (${
            both.map((m) => `${PAPER_METHOD[m]} ${pct(of(m, small, column))} → ${pct(of(m, large, column))}`)
              .join(", ")
          }` +
          `${fft(column).length ? `; FFT ${pct(fft(column))}` : ""}). ` +
          (fftGain(column) ??
            (atFloor([
                ...both.flatMap((m) => [...of(m, small, column), ...of(m, large, column)]),
                ...fft(column),
              ])
              ? FLOOR
              : closes.length > both.length / 2
              ? "This agrees with the paper's claim."
              : "<b>This disagrees with the paper's claim.</b>")),
      );
      const fftSolved = solved(reported, "fft", null, column);
      const pairs = both.map((m) => ({
        label: PAPER_METHOD[m]!,
        small: solved(reported, m, small, column),
        large: solved(reported, m, large, column),
      })).filter((p) => p.small.length && p.large.length);
      if (fftSolved.length && pairs.length) {
        lines.push(
          `<b>Math (${column}), finer measure:</b> ${mathPerplexityClaim(column, fftSolved, pairs)}`,
        );
      }
    }
  }
  for (const column of ["BioMed", "Finance"]) {
    for (const rank of ranks) {
      const mora = of("mora", rank, column), lora = of("lora", rank, column);
      if (!mora.length || !lora.length) continue;
      // A gap within the fixed 5-point margin is noise, whatever the sds say (one seed has none).
      const c = Math.abs(meanSd(mora).mean - meanSd(lora).mean) <= FLOOR_SPREAD
        ? "within"
        : compare(mora, lora);
      const untested = noGainOverBase(base(column), [
        { label: "MoRA", scores: mora },
        { label: "LoRA", scores: lora },
      ]);
      lines.push(
        `<b>Continual pretraining (${column}, r=${rank}):</b> the paper finds MoRA beats LoRA. On our analog ` +
          `MoRA ${pct(mora)}% vs LoRA ${pct(lora)}%. ${
            untested ?? (c === "above"
              ? "MoRA is ahead beyond the sds and by more than 5 points; this agrees."
              : c === "within"
              ? "<b>They are within the sds or 5 points (the fixed noise margin) of each other, so our " +
                "analog does not show the paper's claim.</b>"
              : "<b>MoRA is behind beyond the sds and by more than 5 points, which disagrees with the " +
                "paper's claim.</b>")
          }`,
      );
    }
  }
  return lines.length ? `<ul>${lines.map((l) => `<li>${l}</li>`).join("")}</ul><p>${seedNote}</p>` : "";
}

/** The Table 2 section. */
export function finetuneSection(records: readonly FinetuneRunRecord[], env: Environment): ReportSection {
  const presetName = records[0]?.spec.preset ?? "quick";
  const reported = records.filter((r) => r.role === "reported" && r.status === "ok");
  const untrained = records.filter((r) => r.role === "base");
  const search = records.filter((r) => r.role === "lr-search");
  const tasks = [...new Set(records.map((r) => r.spec.task))];
  const ranks = ranksOf(records);
  const data = [...new Set(records.map((r) => r.spec.data))];
  const intro =
    `<p>Fine-tuning on three task families (paper §5.2, Table 2), preset <b>${escapeHtml(presetName)}</b> ` +
    `on <b>${escapeHtml(env.adapter.description)}</b>, data: ${escapeHtml(data.join(", ") || "none")}. The ` +
    `real datasets (Tulu v2, MetaMath, GSM8K, MATH, MMLU, PubMed, financial news) cannot be downloaded here, ` +
    `so each column is an <b>analog</b>: a CPU-scale task that tests the same property (below). Our ranks ` +
    `${
      ranks.join(" and ")
    } stand for the paper's 8 and 256 by trainable fraction (lib/finetune/presets.ts); ` +
    `MoRA uses rotation (Eq. 9) at the small rank and sharing (Eq. 6) at the large one, as the paper does. ` +
    `Every run trains at the rate its own search chose on training loss.</p>${claims(reported, untrained)}`;
  const failures = failureTable(records);
  const ppl = perplexityTable(reported, untrained), solutions = solutionTable(reported, untrained);
  return {
    id: "finetune",
    title: "Fine-tuning analogs (paper Table 2)",
    intro,
    tables: [
      table2(reported, untrained),
      analogTable(tasks),
      ...ppl ? [ppl] : [],
      ...solutions ? [solutions] : [],
      ...search.length ? [searchTable(search)] : [],
      ...failures ? [failures] : [],
    ],
    charts: [
      ...columnTasks().filter((c) => reported.some((r) => r.scores[c.column] !== undefined))
        .map((c) => columnChart(reported, c.column, c.analog)),
      ...solutionChart(reported),
    ],
  };
}

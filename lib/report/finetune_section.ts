/**
 * The fine-tuning sections: paper Table 2 (every method at the small and large rank on the four tasks) and
 * Table 4 (MoRA's compress/decompress operators on the math task), in the paper's layout with the paper's
 * numbers beside ours and the analog named in each column header; what each analog stands for and cannot
 * tell; the learning-rate search; a chart per task column of score against method at both ranks; and plain
 * statements of where our analogs agree or disagree with the paper's claims. Pure.
 *
 * @module
 */

import { paperResults } from "../paper/results.ts";
import { chooseRate, finalTrainingLoss, SELECTION_RULE } from "../experiment/lr_search.ts";
import { formatMeanSd, meanSd, SD_MEANING } from "../experiment/stats.ts";
import type { FinetuneRunRecord } from "../records.ts";
import { FINETUNE_TASKS } from "../finetune/tasks.ts";
import type { Environment } from "../harness/env.ts";
import { barChart, type Datum } from "./charts.ts";
import { mathPerplexityClaim, operatorPerplexityClaim } from "./solution_perplexity.ts";
import { escapeHtml } from "./html.ts";
import type { Cell, ReportChart, ReportSection, ReportTable } from "./model.ts";

const PAPER_TABLE2 = paperResults.table2_finetuning;
const PAPER_TABLE4 = paperResults.table4_compression_ablation_gsm8k;
const PAPER_METHOD: Record<string, string> = {
  fft: "FFT",
  lora: "LoRA",
  "lora+": "LoRA+",
  relora: "ReLoRA",
  asylora: "AsyLoRA",
  dora: "DoRA",
  mora: "MoRA",
};
/** The paper's ranks, which our small and large rank stand for. */
const PAPER_RANKS = [8, 256];

/** Each paper column, the task whose score it is, and the analog's name. */
function columnTasks(): { column: string; task: string; analog: string }[] {
  return PAPER_TABLE2.columns.map((column) => {
    const task = Object.values(FINETUNE_TASKS).find((t) => t.paperColumns.includes(column))!;
    return { column, task: task.name, analog: task.analog };
  });
}

/** Our ranks, sorted (the smaller stands for the paper's 8, the larger for 256). */
function ranksOf(records: readonly FinetuneRunRecord[]): number[] {
  return [...new Set(records.flatMap((r) => r.spec.rank ?? []))].sort((a, b) => a - b);
}

function paperRank(rank: number, ranks: readonly number[]): number | undefined {
  return ranks.length === 2 ? PAPER_RANKS[ranks.indexOf(rank)] : undefined;
}

/** `LoRA r=1 (paper r=8)`, `MoRA r=1 (rotation)`, `FFT`. */
function rowLabel(method: string, rank: number | null, ranks: readonly number[], variant?: string): string {
  const name = PAPER_METHOD[method] ?? method;
  if (rank === null) return name;
  const paper = paperRank(rank, ranks);
  return `${name} r=${rank}${paper ? ` (paper r=${paper})` : ""}${variant ? ` [${variant}]` : ""}`;
}

/** Scores of one column over the seeds of a (method, rank, variant). */
function scores(
  records: readonly FinetuneRunRecord[],
  column: string,
  pick: (r: FinetuneRunRecord) => boolean,
) {
  return records.filter((r) => pick(r) && r.scores[column] !== undefined).map((r) => r.scores[column]!);
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

/** Label of the untrained base's row. */
const BASE_ROW = "Base, not fine-tuned (the floor)";

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

/** What the solution perplexity is, for captions. */
const SOLUTION_MEANING =
  "perplexity of the held-out problems' worked solutions under teacher forcing (lower " +
  "is better): a finer measure of how much of the solutions' format and arithmetic a run took in than exact " +
  "match, which it does not replace (the paper reports exact match only)";

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

/** The search: each group's grid (criterion per rate) and the rate chosen. */
function searchTable(search: readonly FinetuneRunRecord[]): ReportTable {
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

function failureTable(records: readonly FinetuneRunRecord[]): ReportTable | undefined {
  const failed = records.filter((r) => r.status !== "ok");
  if (failed.length === 0) return undefined;
  return {
    caption: "Runs that diverged or did not learn (recorded, not averaged).",
    columns: ["Run", "Status", "What happened"],
    rows: failed.map((r) => [r.id, r.status, r.failure ?? ""]),
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

/**
 * Scores this close together (fractions) are noise, not a ranking: a margin fixed before the runs, one or two
 * held-out items at the quick sizes of instruction and math (48 questions, 32 problems), 7 of the domains'
 * 144 cloze items.
 */
const FLOOR_SPREAD = 0.05;

/**
 * Whether the scores are all the same up to {@link FLOOR_SPREAD} (0% but for a problem or two, or one constant
 * answer): then the analog cannot rank anything.
 */
export function atFloor(values: readonly number[]): boolean {
  return values.length > 0 && Math.max(...values) - Math.min(...values) <= FLOOR_SPREAD;
}

const FLOOR = "<b>These runs all score within 5 points of each other (the fixed noise margin): at this " +
  "scale this score does not separate the methods and cannot test the claim (neither agreement nor " +
  "disagreement).</b>";

/** Scores as a mean ± sd cell in percent, or an empty cell. */
const pctCell = (v: readonly number[]): Cell => v.length ? formatMeanSd(v, 100) : null;

const pct = (v: readonly number[]) => (100 * meanSd(v).mean).toFixed(1);

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

/**
 * The UUID memorization section: paper Table 1 (character-level accuracy at 30/50/70/90% of the step budget)
 * next to the paper's, aligned by fraction of the budget; the learning-rate search (every grid point and the
 * rate chosen); Figure 3 (training loss of FFT, LoRA and MoRA at both ranks) and Figure 2 (the LoRA rank
 * sweep), with sd bands over seeds and the format-only baseline drawn; and a plain comparison with the
 * paper's claims. Pure.
 *
 * @module
 */

import { paperResults } from "../paper/results.ts";
import { chooseRate, finalTrainingLoss, SELECTION_RULE } from "../experiment/lr_search.ts";
import { formatMeanSd, meanSd, SD_MEANING } from "../experiment/stats.ts";
import type { Environment } from "../harness/env.ts";
import { getTokenizer } from "../data/tokenizer.ts";
import { FORMAT_ONLY_CHAR_ACCURACY, formatOnlyLoss } from "../uuid/baseline.ts";
import type { UuidRunRecord } from "../records.ts";
import { UUID_PRESETS } from "../uuid/presets.ts";
import { type Datum, lineChart } from "./charts.ts";
import { escapeHtml } from "./html.ts";
import type { Cell, ReportChart, ReportSection, ReportTable } from "./model.ts";

const PAPER_TABLE1 = paperResults.table1_uuid_char_accuracy;
const PAPER_METHOD: Record<string, string> = { fft: "FFT", lora: "LoRA", mora: "MoRA" };
const PAPER_FRACTIONS = [0.3, 0.5, 0.7, 0.9];

/** A run's display name: `LoRA r=8`, `MoRA r=8 (rotation)`, `FFT`. */
export function runLabel(r: UuidRunRecord): string {
  const method = PAPER_METHOD[r.spec.method] ?? r.spec.method;
  if (r.spec.rank === null) return method;
  return `${method} r=${r.spec.rank}${r.spec.variant ? ` (${r.spec.variant})` : ""}`;
}

/**
 * The label records are grouped and drawn by: {@link runLabel}, with the rate added where one label ran at
 * several rates (a `--lrs` grid), so that rates are never averaged as if they were seeds.
 */
function seriesLabeler(records: readonly UuidRunRecord[]): (r: UuidRunRecord) => string {
  const rates = new Map<string, Set<number>>();
  for (const r of records) rates.set(runLabel(r), (rates.get(runLabel(r)) ?? new Set()).add(r.spec.lr));
  return (r) => rates.get(runLabel(r))!.size > 1 ? `${runLabel(r)} lr=${r.spec.lr}` : runLabel(r);
}

/** Records grouped by `key`, in first-seen order. */
function groupBy(records: readonly UuidRunRecord[], key: (r: UuidRunRecord) => string) {
  const groups = new Map<string, UuidRunRecord[]>();
  for (const r of records) groups.set(key(r), [...groups.get(key(r)) ?? [], r]);
  return groups;
}

/** The evaluation at a fraction of the budget (the paper's 300/500/700/900 of 1000). */
function evalAt(r: UuidRunRecord, fraction: number, steps: number) {
  const step = Math.max(1, Math.round(fraction * steps));
  return r.evals.find((e) => e.step === step);
}

function presetSteps(r: UuidRunRecord): number {
  return r.losses.at(-1)?.step ?? r.evals.at(-1)?.step ?? 1;
}

/** Table 1: our accuracy at the paper's four fractions of the budget, mean ± sd over seeds. */
function accuracyTable(table: readonly UuidRunRecord[]): ReportTable {
  const steps = table[0] ? presetSteps(table[0]) : 1;
  const rows: Cell[][] = [];
  for (const [label, runs] of groupBy(table, seriesLabeler(table))) {
    const at = (f: number) => runs.map((r) => evalAt(r, f, steps)?.charAccuracy ?? NaN);
    rows.push([
      label,
      runs[0]!.spec.lr,
      runs[0]!.trainableParams,
      ...PAPER_FRACTIONS.map((f) => formatMeanSd(at(f), 100)),
      formatMeanSd(at(1), 100),
      formatMeanSd(runs.map((r) => r.evals.at(-1)!.teacherForcedAccuracy), 100),
      formatMeanSd(runs.map((r) => finalTrainingLoss(r.losses)), 1, 3),
      runs.length,
    ]);
  }
  return {
    caption: `Ours: character-level accuracy (%) of greedy generation from key:, at 30/50/70/90% of the ` +
      `budget and at its end, each method at its searched rate; mean ± sd over seeds (${SD_MEANING}). ` +
      `The format-only baseline is ${(100 * FORMAT_ONLY_CHAR_ACCURACY).toFixed(1)}%.`,
    columns: [
      "run",
      "lr",
      "trainable params",
      ...PAPER_FRACTIONS.map((f) => `${100 * f}% (step ${Math.round(f * steps)})`),
      "final",
      "final teacher-forced",
      "final train loss",
      "seeds",
    ],
    rows,
  };
}

function paperTable(): ReportTable {
  return {
    caption:
      `Paper Table 1 (LLaMA-2 7B, 10K pairs, 1000 per batch, 1000 steps): character-level accuracy (%), ` +
      `one run each, columns aligned with ours by fraction of the budget`,
    columns: ["method", "rank", ...PAPER_TABLE1.steps.map((s) => `${s / 10}% (step ${s})`)],
    rows: PAPER_TABLE1.rows.map((r) => [r.method, r.rank, ...r.acc]),
  };
}

/** Runs that diverged or did not learn, with what happened. */
function failureTable(records: readonly UuidRunRecord[]): ReportTable | undefined {
  const failed = records.filter((r) => r.status !== "ok");
  if (failed.length === 0) return undefined;
  return {
    caption: "Runs that diverged or did not learn (kept in the record, never chosen by the search)",
    columns: ["run", "role", "seed", "lr", "status", "what happened"],
    rows: failed.map((r) => [runLabel(r), r.role, r.spec.seed, r.spec.lr, r.status, r.failure ?? ""]),
  };
}

/** The search: every grid rate's criterion per (method, rank), and the rate chosen. */
function searchTable(search: readonly UuidRunRecord[]): ReportTable {
  const rates = [...new Set(search.map((r) => r.spec.lr))].sort((a, b) => a - b);
  const rows: Cell[][] = [];
  for (const [label, runs] of groupBy(search, runLabel)) {
    const grid = runs.map((r) => ({
      lr: r.spec.lr,
      status: r.status,
      criterion: finalTrainingLoss(r.losses),
    }));
    const cells = rates.map((lr) => {
      const p = grid.find((g) => g.lr === lr);
      if (!p) return "";
      return p.status === "ok" ? p.criterion.toFixed(3) : `${p.status}`;
    });
    rows.push([label, ...cells, chooseRate(grid) ?? "none trained"]);
  }
  const seed = search[0]?.spec.seed;
  return {
    caption:
      `Learning-rate search on seed ${seed} (no reported run uses it): final training loss per rate. ` +
      `Rule, fixed before the search: ${SELECTION_RULE}.`,
    columns: ["run", ...rates.map((lr) => `lr ${lr}`), "chosen"],
    rows,
  };
}

function searchChart(search: readonly UuidRunRecord[]): ReportChart {
  const values: Datum[] = search.filter((r) => r.status === "ok").map((r) => ({
    run: runLabel(r),
    lr: r.spec.lr,
    loss: finalTrainingLoss(r.losses),
  }));
  return {
    name: "uuid-lr-search",
    spec: lineChart({
      title:
        "Learning-rate search: final training loss per rate (search seed; runs that diverged or did not " +
        "learn left out; the rate chosen is in the table)",
      values,
      x: { field: "lr", title: "Learning rate", type: "quantitative", log: true },
      y: { field: "loss", title: "Final training loss", type: "quantitative" },
      series: { field: "run", title: "Run" },
    }),
  };
}

/** Mean and mean ± sd over seeds of one value per (run, step). */
function bands(
  records: readonly UuidRunRecord[],
  points: (r: UuidRunRecord) => { step: number; value: number }[],
  field: string,
): Datum[] {
  const label = seriesLabeler(records);
  const byKey = new Map<string, { run: string; step: number; values: number[] }>();
  for (const r of records) {
    for (const { step, value } of points(r)) {
      const key = `${label(r)}|${step}`;
      const entry = byKey.get(key) ?? { run: label(r), step, values: [] };
      entry.values.push(value);
      byKey.set(key, entry);
    }
  }
  return [...byKey.values()].map(({ run, step, values }) => {
    const { mean, sd, n } = meanSd(values);
    return { run, step, [field]: mean, lower: mean - sd, upper: mean + sd, seeds: n };
  });
}

function curveChart(
  name: string,
  title: string,
  records: readonly UuidRunRecord[],
  kind: "loss" | "accuracy",
  baseline: number | undefined,
): ReportChart {
  const values = kind === "loss"
    ? bands(records, (r) => r.losses.map((l) => ({ step: l.step, value: l.loss })), "loss")
    : bands(records, (r) => r.evals.map((e) => ({ step: e.step, value: 100 * e.charAccuracy })), "accuracy");
  return {
    name,
    spec: lineChart({
      title: `${title} (mean over seeds, band ± 1 sd)`,
      values,
      x: { field: "step", title: "Step", type: "quantitative" },
      y: kind === "loss"
        ? { field: "loss", title: "Training loss (nats/token)", type: "quantitative" }
        : { field: "accuracy", title: "Character accuracy (%)", type: "quantitative" },
      series: { field: "run", title: "Run", sort: [...new Set(records.map(seriesLabeler(records)))] },
      points: kind === "accuracy",
      band: { lower: "lower", upper: "upper" },
      rules: baseline === undefined ? [] : [{ y: baseline, label: "format only" }],
    }),
  };
}

/** Our outcome on each of the paper's Table 1 and Figure 2 claims, said plainly. */
function comparison(
  table: readonly UuidRunRecord[],
  ranks: number[],
  sweep: readonly UuidRunRecord[],
): string {
  // Only a group at one rate is compared (a `--lrs` grid has no single answer).
  const final = (method: string, rank: number | null) => {
    const runs = table.filter((r) => r.spec.method === method && r.spec.rank === rank);
    if (runs.length === 0 || new Set(runs.map((r) => r.spec.lr)).size > 1) return undefined;
    return meanSd(runs.map((r) => r.evals.at(-1)!.charAccuracy));
  };
  const pct = (s: { mean: number; sd: number }) =>
    `${(100 * s.mean).toFixed(1)} ± ${(100 * s.sd).toFixed(1)}%`;
  const lines: string[] = [];
  const fft = final("fft", null);
  if (fft) {
    lines.push(
      `Paper: FFT memorizes every pair. Ours: FFT ends at ${pct(fft)} (${
        fft.mean > 0.99 ? "agrees" : "disagrees"
      }).`,
    );
  }
  for (const rank of ranks) {
    const lora = final("lora", rank), mora = final("mora", rank);
    if (!lora || !mora) continue;
    const gap = mora.mean - lora.mean, noise = mora.sd + lora.sd;
    const verdict = gap > noise
      ? "agrees: MoRA ahead by more than the two sds"
      : gap < -noise
      ? "disagrees: LoRA ahead by more than the two sds"
      : "inconclusive: the gap is within the two sds";
    lines.push(
      `Paper: MoRA memorizes more than LoRA at equal trainable parameters. Ours at r=${rank}: MoRA ${
        pct(mora)
      }, LoRA ${pct(lora)} (${verdict}).`,
    );
  }
  const sweepLine = sweepComparison(sweep);
  if (sweepLine) lines.push(sweepLine);
  return lines.length ? `<ul>${lines.map((l) => `<li>${escapeHtml(l)}</li>`).join("")}</ul>` : "";
}

/** Figure 2's claim: LoRA memorizes more as its rank grows. Each step up counts when it exceeds the two sds. */
function sweepComparison(sweep: readonly UuidRunRecord[]): string | undefined {
  const byRank = [...groupBy(sweep, (r) => String(r.spec.rank)).values()];
  if (byRank.length < 2 || byRank.some((runs) => new Set(runs.map((r) => r.spec.lr)).size > 1)) {
    return undefined;
  }
  const finals = byRank.map((runs) => ({
    rank: runs[0]!.spec.rank!,
    ...meanSd(runs.map((r) => r.evals.at(-1)!.charAccuracy)),
    loss: meanSd(runs.map((r) => finalTrainingLoss(r.losses))).mean,
  }));
  const rising = finals.slice(1).filter((f, i) => f.mean - finals[i]!.mean > f.sd + finals[i]!.sd).length;
  const steps = finals.length - 1;
  const verdict = rising === steps
    ? "agrees: every step up in rank gains more than the two sds"
    : rising === 0
    ? "disagrees: no step up in rank gains more than the two sds"
    : `partly: ${rising} of ${steps} steps up in rank gain more than the two sds`;
  const list = finals.map((f) => `r=${f.rank} ${(100 * f.mean).toFixed(1)} ± ${(100 * f.sd).toFixed(1)}%`);
  const losses = finals.map((f) => f.loss.toFixed(2)).join(", ");
  return `Paper: LoRA memorizes more as its rank grows (Figure 2). Ours: ${list.join(", ")} (${verdict}); ` +
    `final training losses ${losses} nats per token.`;
}

/** The UUID memorization section (Table 1, Figures 2 and 3, the rate search) of one preset's records. */
export function uuidSection(records: readonly UuidRunRecord[], env: Environment): ReportSection {
  const presetName = records[0]?.spec.preset ?? "quick";
  const ok = records.filter((r) => r.status === "ok");
  const reported = ok.filter((r) => r.role !== "lr-search");
  const table1 = reported.filter((r) => r.role === "table1");
  const ranks = [...new Set(table1.flatMap((r) => r.spec.rank ?? []))].sort((a, b) => a - b);
  const figure3 = table1.filter((r) => r.spec.method in PAPER_METHOD);
  const sweep = reported.filter((r) => r.spec.method === "lora").sort((a, b) => a.spec.rank! - b.spec.rank!);
  const search = records.filter((r) => r.role === "lr-search");
  const loss = formatOnlyLoss(getTokenizer(UUID_PRESETS[presetName]?.tokenizer ?? "byte"));
  const intro = `<p>Memorizing random UUID pairs (paper §5.1), preset <b>${escapeHtml(presetName)}</b> on ` +
    `<b>${escapeHtml(env.adapter.description)}</b>. Each run trains on <code>key:value</code> with the ` +
    `causal-LM loss over the whole sequence from a frozen base model, and is scored by greedy generation from ` +
    `<code>key:</code>. Our ranks ${ranks.join(" and ")} stand for the paper's 8 and 256 (same trainable ` +
    `fraction; see lib/uuid/presets.ts). Every method trains at the rate its own search chose. The format-only ` +
    `baseline (dashed) is a model that knows the UUID layout and nothing of the pairs: ` +
    `${(100 * FORMAT_ONLY_CHAR_ACCURACY).toFixed(1)}% character accuracy` +
    `${loss === undefined ? "" : `, ${loss.toFixed(3)} nats per token`}. The paper's numbers are from ` +
    `LLaMA-2 7B and stand beside ours for the trend, not as a target.</p>${comparison(table1, ranks, sweep)}`;
  const failures = failureTable(records);
  return {
    id: "uuid",
    title: "UUID memorization (paper Table 1, Figures 2–3)",
    intro,
    tables: [
      accuracyTable(table1),
      paperTable(),
      ...search.length ? [searchTable(search)] : [],
      ...failures ? [failures] : [],
    ],
    charts: [
      curveChart(
        "uuid-figure3-loss",
        "Figure 3 (ours): training loss, FFT / LoRA / MoRA",
        figure3,
        "loss",
        loss,
      ),
      curveChart("uuid-figure2-loss", "Figure 2 (ours): LoRA training loss by rank", sweep, "loss", loss),
      curveChart(
        "uuid-figure2-accuracy",
        "Figure 2 (ours): LoRA character accuracy by rank",
        sweep,
        "accuracy",
        100 * FORMAT_ONLY_CHAR_ACCURACY,
      ),
      ...search.length ? [searchChart(search)] : [],
    ],
  };
}

/**
 * The UUID memorization section: paper Table 1 (character-level accuracy at 30/50/70/90% of the step budget) with
 * the paper's numbers beside ours, Figure 3 (training loss of FFT, LoRA and MoRA at both ranks) and Figure 2 (the
 * LoRA rank sweep). With several seeds, tables show mean ± standard deviation and charts every seed. Pure.
 *
 * @module
 */

import paperResults from "../../testdata/paper-results.json" with { type: "json" };
import type { Environment } from "../harness/env.ts";
import type { UuidRunRecord } from "../uuid/experiment.ts";
import { type Datum, lineChart } from "./charts.ts";
import { escapeHtml } from "./html.ts";
import type { Cell, ReportChart, ReportSection, ReportTable } from "./model.ts";

const PAPER_TABLE1 = paperResults.table1_uuid_char_accuracy;
const PAPER_METHOD: Record<string, string> = { fft: "FFT", lora: "LoRA", mora: "MoRA" };

/** A run's display name: `LoRA r=8`, `MoRA r=8 (rotation)`, `FFT`. */
export function runLabel(r: UuidRunRecord): string {
  const method = PAPER_METHOD[r.spec.method] ?? r.spec.method;
  if (r.spec.rank === null) return method;
  return `${method} r=${r.spec.rank}${r.spec.variant ? ` (${r.spec.variant})` : ""}`;
}

function meanStd(values: number[]): string {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  if (values.length < 2) return (100 * mean).toFixed(1);
  const sd = Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1));
  return `${(100 * mean).toFixed(1)} ± ${(100 * sd).toFixed(1)}`;
}

/** Runs grouped by everything but the seed. */
function bySetting(records: readonly UuidRunRecord[]): Map<string, UuidRunRecord[]> {
  const groups = new Map<string, UuidRunRecord[]>();
  for (const r of records) {
    const key = `${runLabel(r)} lr=${r.spec.lr}`;
    groups.set(key, [...groups.get(key) ?? [], r]);
  }
  return groups;
}

/** Table 1: our accuracy at the paper's four fractions of the budget, mean ± sd over seeds. */
function accuracyTable(records: readonly UuidRunRecord[]): ReportTable {
  const rows: Cell[][] = [];
  for (const [key, runs] of bySetting(records)) {
    const evals = runs[0]!.evals.slice(0, 4);
    rows.push([
      key,
      runs[0]!.trainableParams,
      ...evals.map((_, i) => meanStd(runs.map((r) => r.evals[i]!.charAccuracy))),
      meanStd(runs.map((r) => r.evals.at(-1)!.charAccuracy)),
      meanStd(runs.map((r) => r.evals.at(-1)!.teacherForcedAccuracy)),
      runs.length,
    ]);
  }
  const steps = records[0]?.evals.slice(0, 4).map((e) => `step ${e.step}`) ?? [];
  return {
    caption:
      "Ours: character-level accuracy (%) of greedy generation from key: at 30/50/70/90% of the budget",
    columns: ["run", "trainable params", ...steps, "final", "final teacher-forced", "seeds"],
    rows,
  };
}

function paperTable(): ReportTable {
  return {
    caption: `Paper Table 1 (LLaMA-2 7B, 10K pairs, 1000 per batch): character-level accuracy (%) at steps ` +
      PAPER_TABLE1.steps.join("/"),
    columns: ["method", "rank", ...PAPER_TABLE1.steps.map((s) => `step ${s}`)],
    rows: PAPER_TABLE1.rows.map((r) => [r.method, r.rank, ...r.acc]),
  };
}

/** One point per (run, step): the mean over seeds of `value`, so several seeds draw one curve per run. */
export function meanOverSeeds(
  records: readonly UuidRunRecord[],
  points: (r: UuidRunRecord) => { step: number; value: number }[],
): { run: string; step: number; value: number; seeds: number }[] {
  const sums = new Map<string, { run: string; step: number; sum: number; n: number }>();
  for (const r of records) {
    for (const { step, value } of points(r)) {
      const key = `${runLabel(r)}|${step}`;
      const entry = sums.get(key) ?? { run: runLabel(r), step, sum: 0, n: 0 };
      entry.sum += value;
      entry.n += 1;
      sums.set(key, entry);
    }
  }
  return [...sums.values()].map((e) => ({ run: e.run, step: e.step, value: e.sum / e.n, seeds: e.n }));
}

function lossValues(records: readonly UuidRunRecord[]): Datum[] {
  return meanOverSeeds(records, (r) => r.losses.map((l) => ({ step: l.step, value: l.loss })))
    .map(({ run, step, value, seeds }) => ({ run, step, loss: value, seeds }));
}

function lossChart(name: string, title: string, records: readonly UuidRunRecord[]): ReportChart {
  return {
    name,
    spec: lineChart({
      title,
      values: lossValues(records),
      x: { field: "step", title: "Step", type: "quantitative" },
      y: { field: "loss", title: "Training loss", type: "quantitative" },
      series: { field: "run", title: "Run", sort: [...new Set(records.map(runLabel))] },
      points: false,
    }),
  };
}

function sweepAccuracyChart(sweep: readonly UuidRunRecord[]): ReportChart {
  const values = meanOverSeeds(
    sweep,
    (r) => r.evals.map((e) => ({ step: e.step, value: 100 * e.charAccuracy })),
  )
    .map(({ run, step, value, seeds }) => ({
      run,
      step,
      accuracy: value,
      seeds,
    }));
  return {
    name: "uuid-figure2-accuracy",
    spec: lineChart({
      title: "Figure 2 (ours): LoRA character-level accuracy by rank (mean over seeds)",
      values,
      x: { field: "step", title: "Step", type: "quantitative" },
      y: { field: "accuracy", title: "Character accuracy (%)", type: "quantitative" },
      series: { field: "run", title: "Run", sort: [...new Set(sweep.map(runLabel))] },
    }),
  };
}

/** The section; `ranks` are the preset's small and large rank (Table 1, Figure 3). */
export function uuidSection(
  records: readonly UuidRunRecord[],
  env: Environment,
  ranks: number[],
): ReportSection {
  const table1 = records.filter((r) => r.spec.method === "fft" || ranks.includes(r.spec.rank ?? -1));
  const figure3 = table1.filter((r) => ["fft", "lora", "mora"].includes(r.spec.method));
  const sweep = records.filter((r) => r.spec.method === "lora").sort((a, b) => a.spec.rank! - b.spec.rank!);
  const preset = records[0]?.spec.preset ?? "";
  const intro = `<p>Memorizing random UUID pairs (paper §5.1), preset <b>${escapeHtml(preset)}</b> on ` +
    `<b>${
      escapeHtml(env.adapter.description)
    }</b>. Each run trains on <code>key:value</code> with the causal-LM ` +
    `loss over the whole sequence from a frozen base model, and is scored by greedy generation from ` +
    `<code>key:</code>. Our ranks ${
      ranks.join(" and ")
    } stand for the paper's 8 and 256 (same trainable fraction; ` +
    `see lib/uuid/presets.ts). The paper's numbers are from LLaMA-2 7B and are shown for the trend, not for equality.</p>`;
  return {
    id: "uuid",
    title: "UUID memorization (paper Table 1, Figures 2–3)",
    intro,
    tables: [accuracyTable(table1), paperTable()],
    charts: [
      lossChart(
        "uuid-figure3-loss",
        "Figure 3 (ours): training loss, FFT / LoRA / MoRA (mean over seeds)",
        figure3,
      ),
      lossChart("uuid-figure2-loss", "Figure 2 (ours): LoRA training loss by rank (mean over seeds)", sweep),
      sweepAccuracyChart(sweep),
    ],
  };
}

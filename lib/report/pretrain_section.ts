/**
 * The pretraining section (paper §5.3): Table 3 (validation perplexity and bits per byte on held-out
 * documents, mean ± sd over seeds, beside the paper's C4 numbers), the step time and peak memory of each
 * method from the same runs, the learning-rate search, Figure 4 (training loss with sd bands and the merge
 * points), Figure 5 (singular values of ΔW above 0.1 per module type, and the leading singular values), and a
 * plain comparison with the paper's claims. Pure.
 *
 * @module
 */

import type { TopLevelSpec } from "vega-lite";
import { paperResults } from "../paper/results.ts";
import { chooseRate, finalTrainingLoss, type GridPoint, SELECTION_RULE } from "../experiment/lr_search.ts";
import { formatMeanSd, meanSd, SD_MEANING } from "../experiment/stats.ts";
import type { PretrainRunRecord } from "../records.ts";
import { PAPER_FRACTION, PRETRAIN_PRESETS } from "../pretraining/presets.ts";
import { SINGULAR_VALUE_THRESHOLD } from "../pretraining/spectrum.ts";
import { barChart, type Datum, lineChart } from "./charts.ts";
import { escapeHtml } from "./html.ts";
import type { Cell, ReportChart, ReportSection, ReportTable } from "./model.ts";

const PAPER_TABLE3 = paperResults.table3_pretraining_perplexity;
const DISPLAY: Record<string, string> = {
  fft: "FFT (reference)",
  lora: "LoRA",
  mora: "MoRA",
  relora: "ReLoRA",
  remora: "ReMoRA",
};

function display(method: string): string {
  return DISPLAY[method] ?? method;
}

/** A run's display name with its model when the preset has several. */
function label(r: PretrainRunRecord, models: number): string {
  return models > 1 ? `${display(r.spec.method)} (${r.spec.model})` : display(r.spec.method);
}

function groupBy<T>(items: readonly T[], key: (t: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const t of items) groups.set(key(t), [...groups.get(key(t)) ?? [], t]);
  return groups;
}

function paperPpl(method: string): Cell[] {
  const row = PAPER_TABLE3.rows.find((r) => r.method === DISPLAY[method]);
  return row ? row.ppl.map((p) => p.toFixed(2)) : [null, null];
}

function table3(runs: readonly PretrainRunRecord[], models: number): ReportTable {
  const rows: Cell[][] = [];
  for (const [name, group] of groupBy(runs, (r) => label(r, models))) {
    const v = group.map((r) => r.validation!);
    rows.push([
      name,
      String(group[0]!.spec.lr),
      group[0]!.trainableParams,
      formatMeanSd(v.map((x) => x.perplexity), 1, 3),
      formatMeanSd(v.map((x) => x.bitsPerByte), 1, 4),
      formatMeanSd(group.map((r) => finalTrainingLoss(r.losses)), 1, 3),
      group.length,
      ...paperPpl(group[0]!.spec.method),
    ]);
  }
  return {
    caption:
      `Table 3 (ours): perplexity and bits per byte on held-out documents of the bundled corpus (split ` +
      `by document, never trained on), each method at its searched rate; mean ± sd over seeds (${SD_MEANING}). ` +
      `The last two columns are the paper's C4 validation perplexities (T5 tokenizer, 250M and 1.3B models, ` +
      `10K steps): the paper's numbers beside ours, not a target; perplexities of different tokenizers and ` +
      `data do not compare, bits per byte would.`,
    columns: [
      "method",
      "lr",
      "trainable params",
      "validation perplexity",
      "bits per byte",
      "final train loss",
      "seeds",
      "paper 250M ppl",
      "paper 1.3B ppl",
    ],
    rows,
  };
}

function costTable(runs: readonly PretrainRunRecord[], models: number): ReportTable {
  const groups = groupBy(runs, (r) => label(r, models));
  const loraMs = (model: string) =>
    meanSd(runs.filter((r) => r.spec.method === "lora" && r.spec.model === model).map((r) => r.msPerStep))
      .mean;
  const rows: Cell[][] = [];
  for (const [name, group] of groups) {
    const ms = group.map((r) => r.msPerStep);
    const merges = group.flatMap((r) => r.merges);
    rows.push([
      name,
      formatMeanSd(ms, 1, 0),
      Number.isFinite(loraMs(group[0]!.spec.model))
        ? (meanSd(ms).mean / loraMs(group[0]!.spec.model)).toFixed(2)
        : null,
      (meanSd(group.map((r) => r.peakBytes)).mean / 2 ** 20).toFixed(1),
      merges.length / group.length,
      merges.length ? meanSd(merges.map((m) => m.ms)).mean.toFixed(0) : null,
    ]);
  }
  return {
    caption:
      `Cost, measured in the same runs: mean wall time of a training update (merges excluded), its ratio ` +
      `to LoRA's, peak GPU memory allocated by the run (weights, optimizer state, activations), merges per run ` +
      `and their mean time. Timings on a software adapter are CPU timings, and other processes share the CPU.`,
    columns: ["method", "ms/update", "× LoRA", "peak MiB", "merges per run", "ms per merge"],
    rows,
  };
}

function searchTable(search: readonly PretrainRunRecord[], models: number): ReportTable {
  const rates = [...new Set(search.map((r) => r.spec.lr))].sort((a, b) => a - b);
  const rows: Cell[][] = [];
  for (const [name, group] of groupBy(search, (r) => label(r, models))) {
    const grid: GridPoint[] = group.map((r) => ({
      lr: r.spec.lr,
      status: r.status,
      criterion: finalTrainingLoss(r.losses),
    }));
    rows.push([
      name,
      ...rates.map((lr) => {
        const p = grid.find((g) => g.lr === lr);
        return p === undefined ? null : p.status === "ok" ? p.criterion.toFixed(3) : p.status;
      }),
      chosenRate(grid),
    ]);
  }
  return {
    caption:
      `Learning-rate search on seed ${search[0]?.spec.seed}: final training loss per rate; the rate is ` +
      `chosen by ${SELECTION_RULE}`,
    columns: ["method", ...rates.map((lr) => `lr ${lr}`), "chosen"],
    rows,
  };
}

/** The chosen rate, flagged when it is the smallest or largest of its grid (a wider grid might choose otherwise). */
function chosenRate(grid: GridPoint[]): string {
  const lr = chooseRate(grid);
  if (lr === undefined) return "none";
  const rates = grid.map((p) => p.lr);
  return lr === Math.min(...rates) || lr === Math.max(...rates) ? `${lr} (edge of the grid)` : String(lr);
}

function figure5Table(runs: readonly PretrainRunRecord[], models: number): ReportTable {
  const modules = runs[0]?.spectrum?.map((s) => s.module) ?? [];
  const rows: Cell[][] = [];
  for (const [name, group] of groupBy(runs, (r) => label(r, models))) {
    rows.push([
      name,
      ...modules.map((m) =>
        formatMeanSd(group.map((r) => r.spectrum!.find((s) => s.module === m)!.meanCount))
      ),
      formatMeanSd(group.map((r) => meanCount(r))),
    ]);
  }
  return {
    caption: `Figure 5 (ours): singular values of ΔW = W_final − W_init above ${SINGULAR_VALUE_THRESHOLD}, ` +
      `averaged over layers per module type (ReLoRA/ReMoRA: the merged cycles plus the live adapter); mean ± sd ` +
      `over seeds. The count depends on the scale of ΔW: the leading singular values are charted below.`,
    columns: ["method", ...modules, "all modules"],
    rows,
  };
}

function meanCount(r: PretrainRunRecord): number {
  return meanSd(r.spectrum!.map((s) => s.meanCount)).mean;
}

/** Runs that diverged or did not learn, with what happened. */
function failureTable(records: readonly PretrainRunRecord[], models: number): ReportTable | undefined {
  const failed = records.filter((r) => r.status !== "ok");
  if (failed.length === 0) return undefined;
  return {
    caption: "Runs that diverged or did not learn (kept in the record, never chosen by the search)",
    columns: ["run", "role", "seed", "lr", "status", "what happened"],
    rows: failed.map((r) => [label(r, models), r.role, r.spec.seed, r.spec.lr, r.status, r.failure ?? ""]),
  };
}

/** Figure 4: mean training loss per step over seeds with a ± 1 sd band, and a dashed rule at each merge. */
function lossChart(runs: readonly PretrainRunRecord[], models: number): ReportChart {
  const values: Datum[] = [];
  for (const [name, group] of groupBy(runs, (r) => label(r, models))) {
    for (const { step } of group[0]!.losses) {
      const at = group.map((r) => r.losses.find((l) => l.step === step)?.loss).filter((l) => l !== undefined);
      const { mean, sd } = meanSd(at);
      values.push({ step, loss: mean, lower: mean - sd, upper: mean + sd, method: name });
    }
  }
  const spec = lineChart({
    title: "Figure 4 (ours): training loss, mean ± 1 sd over seeds; dashed: ReLoRA/ReMoRA merges",
    values,
    x: { field: "step", title: "Update" },
    y: { field: "loss", title: "Training loss (nats/token)" },
    series: { field: "method", title: "Method" },
    band: { lower: "lower", upper: "upper" },
    points: false,
    width: 560,
  }) as TopLevelSpec & { layer: object[] };
  const mergeSteps = [...new Set(runs.flatMap((r) => r.merges.map((m) => m.step)))].sort((a, b) => a - b);
  for (const step of mergeSteps) {
    spec.layer.push({
      mark: { type: "rule", strokeDash: [4, 4], color: "#555" },
      encoding: { x: { datum: step } },
    });
  }
  return { name: "pretrain-figure4-loss", spec };
}

function spectrumCharts(runs: readonly PretrainRunRecord[], models: number): ReportChart[] {
  const bars: Datum[] = [];
  const leading: Datum[] = [];
  for (const [name, group] of groupBy(runs, (r) => label(r, models))) {
    for (const s of group[0]!.spectrum!) {
      const counts = group.map((r) => r.spectrum!.find((x) => x.module === s.module)!.meanCount);
      bars.push({ module: s.module, count: meanSd(counts).mean, method: name });
    }
    // The i-th singular value averaged over module types, layers and seeds.
    const k = Math.min(...group.flatMap((r) => r.spectrum!.map((s) => s.leading.length)));
    for (let i = 0; i < k; i++) {
      const v = group.flatMap((r) => r.spectrum!.map((s) => s.leading[i]!));
      leading.push({ index: i + 1, value: meanSd(v).mean, method: name });
    }
  }
  return [
    {
      name: "pretrain-figure5-counts",
      spec: barChart({
        title:
          `Figure 5 (ours): singular values of ΔW > ${SINGULAR_VALUE_THRESHOLD}, mean over layers and seeds`,
        values: bars,
        category: { field: "module", title: "Module" },
        value: { field: "count", title: `Singular values > ${SINGULAR_VALUE_THRESHOLD}` },
        group: { field: "method", title: "Method" },
        width: 560,
      }),
    },
    {
      name: "pretrain-figure5-leading",
      spec: lineChart({
        title: "Leading singular values of ΔW (mean over module types, layers and seeds)",
        values: leading,
        x: { field: "index", title: "Index i (descending)" },
        y: { field: "value", title: "i-th singular value", log: true },
        series: { field: "method", title: "Method" },
        points: false,
        rules: [{ y: SINGULAR_VALUE_THRESHOLD, label: `threshold ${SINGULAR_VALUE_THRESHOLD}` }],
        width: 560,
      }),
    },
  ];
}

/** "lower than", "higher than" or "within the sds of": a against b, decisive when the means differ by more than sd_a + sd_b. */
export function compareMeans(
  a: readonly number[],
  b: readonly number[],
): "lower" | "higher" | "within the sds" {
  const x = meanSd(a), y = meanSd(b);
  if (Math.abs(x.mean - y.mean) <= x.sd + y.sd) return "within the sds";
  return x.mean < y.mean ? "lower" : "higher";
}

/** The paper's claims, each with what our runs show. */
function comparison(runs: readonly PretrainRunRecord[]): string {
  const by = (m: string) => runs.filter((r) => r.spec.method === m);
  const ppl = (m: string) => by(m).map((r) => r.validation!.perplexity);
  const lines: string[] = [];
  const claim = (a: string, b: string, text: string) => {
    if (by(a).length === 0 || by(b).length === 0) return;
    const result = compareMeans(ppl(a), ppl(b));
    const verdict = {
      lower: "agrees with the paper",
      higher: "disagrees with the paper",
      "within the sds": "inconclusive",
    }[result];
    const relation = result === "within the sds" ? "within the sds of" : `${result} than`;
    const values = `${formatMeanSd(ppl(a), 1, 3)} vs ${formatMeanSd(ppl(b), 1, 3)}`;
    lines.push(
      `${text}: our ${display(a)} perplexity is ${relation} ${display(b)}'s (${values}): ${verdict}.`,
    );
  };
  claim("mora", "lora", "Paper: MoRA beats LoRA (28.54 vs 33.40 at 250M)");
  claim("mora", "relora", "Paper: MoRA beats ReLoRA (28.54 vs 32.19)");
  claim("relora", "lora", "Paper: ReLoRA beats LoRA (32.19 vs 33.40)");
  claim("remora", "mora", "Paper: ReMoRA improves on MoRA (26.74 vs 28.54)");
  claim("remora", "relora", "Paper: ReMoRA beats ReLoRA (26.74 vs 32.19)");
  const count = (m: string) => by(m).map(meanCount);
  if (["lora", "mora", "relora", "remora"].every((m) => by(m).length > 0)) {
    const high = Math.min(meanSd(count("mora")).mean, meanSd(count("remora")).mean);
    const low = Math.max(meanSd(count("lora")).mean, meanSd(count("relora")).mean);
    lines.push(
      `Paper (Figure 5): MoRA and ReMoRA have far more singular values of ΔW above 0.1 than LoRA and ReLoRA. ` +
        `Ours, mean over modules: ${
          ["lora", "relora", "mora", "remora"].map((m) => `${display(m)} ${formatMeanSd(count(m))}`).join(
            ", ",
          )
        }: ${high > low ? "agrees" : "disagrees"} with the paper.`,
    );
  }
  const ms = (m: string) => meanSd(by(m).map((r) => r.msPerStep)).mean;
  if (by("lora").length > 0) {
    const ratios = ["mora", "remora"].filter((m) => by(m).length > 0).map((m) =>
      `${display(m)} ${(ms(m) / ms("lora")).toFixed(2)}×`
    );
    if (ratios.length) {
      lines.push(
        `Cost: step time relative to LoRA's: ${ratios.join(", ")} (the paper: MoRA costs what LoRA costs).`,
      );
    }
  }
  return lines.length ? `<ul>${lines.map((l) => `<li>${escapeHtml(l)}</li>`).join("")}</ul>` : "";
}

/** The section of the latest preset's records (the one with the newest provenance). */
export function pretrainSection(records: readonly PretrainRunRecord[]): ReportSection {
  const newest = [...records].sort((a, b) => a.provenance.date.localeCompare(b.provenance.date)).at(-1);
  const presetName = newest?.spec.preset ?? "quick";
  const ofPreset = records.filter((r) => r.spec.preset === presetName);
  const models = new Set(ofPreset.map((r) => r.spec.model)).size;
  const runs = ofPreset.filter((r) => r.role === "table3" && r.status === "ok" && r.validation && r.spectrum);
  const search = ofPreset.filter((r) => r.role === "lr-search");
  const preset = PRETRAIN_PRESETS[presetName];
  const intro = `<p>Pretraining a random-initialized LLaMA from scratch (paper §5.3), preset ` +
    `<b>${escapeHtml(presetName)}</b>${
      preset
        ? ` (${preset.steps} updates of ${preset.batch * preset.microBatches} × ` +
          `${preset.seqLen} tokens, r = ${preset.rank})`
        : ""
    }. Adapters sit on every block projection; the ` +
    `embeddings, norms and LM head train next to them; no full-rank warmup. The rank maps the paper's r = 128 ` +
    `by trainable fraction (${
      (100 * PAPER_FRACTION).toFixed(1)
    }% of the block weights; lib/pretraining/presets.ts), ` +
    `so LoRA, MoRA (sharing, Eq. 6), ReLoRA and ReMoRA train the same number of values. ReLoRA and ReMoRA merge ` +
    `and restart (optimizer reset, re-warmup; ReMoRA switches its grouping) at the dashed lines of Figure 4. ` +
    `FFT (reference) is full training, a line beyond the paper. This is a CPU-scale analog: the bundled corpus stands for C4 and ` +
    `the budget is a tiny fraction of the paper's, so it can show the ordering of the methods early in ` +
    `training and the rank of their updates, not the paper's perplexities.</p>${comparison(runs)}`;
  const failures = failureTable(ofPreset, models);
  return {
    id: "pretrain",
    title: "Pretraining from scratch (paper Table 3, Figures 4–5)",
    intro,
    tables: [
      table3(runs, models),
      costTable(runs, models),
      ...runs.length ? [figure5Table(runs, models)] : [],
      ...search.length ? [searchTable(search, models)] : [],
      ...failures ? [failures] : [],
    ],
    charts: runs.length ? [lossChart(runs, models), ...spectrumCharts(runs, models)] : [],
  };
}

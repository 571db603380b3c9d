/**
 * The training-step section: ms per step, tokens/s and peak GPU bytes per method and rank, MoRA's step time
 * and memory as ratios to LoRA's at the same rank next to the paper's Table 5, and full fine-tuning next to
 * other frameworks measured on the same 2-core machine. Pure: records in, section out.
 *
 * @module
 */

import paperResults from "../../testdata/paper-results.json" with { type: "json" };
import type { Environment } from "../harness/env.ts";
import type { Timing } from "../harness/timing.ts";
import { barChart, type Datum } from "./charts.ts";
import { escapeHtml } from "./html.ts";
import type { Cell, ReportSection, ReportTable } from "./model.ts";

/** One measured training step. */
export interface StepRecord {
  /** `fft` or an adapter method. */
  method: string;
  /** Adapter rank r (null for fft). */
  rank: number | null;
  /** MoRA variant, when MoRA. */
  variant?: string;
  /** Whether the method trains every weight (then the nominal FLOPs are the step's: GFLOP/s is shown). */
  trainsBase: boolean;
  /** Merge-and-restart methods: the period, how many merges the run made and their mean time (left out). */
  merges?: { every: number; count: number; meanMs: number };
  /** Model preset name. */
  config: string;
  batch: number;
  seqLen: number;
  /** Trainable parameters. */
  trainableParams: number;
  /** Nominal model FLOPs of a full fine-tuning step (6N per token + attention). */
  stepFlops: number;
  /** Peak bytes allocated while building and running the step (model, adapters, activations, optimizer). */
  peakBytes: number;
  /** Time of one step. */
  timing: Timing;
}

/** Step times of other frameworks on the reference config, measured by the project on the same 2 cores. */
export const STEP_REFERENCES: readonly { name: string; ms: number }[] = [
  { name: "tfjs-backend-webgpu (software adapter)", ms: 610 },
  { name: "jax-js on WebGPU (software adapter)", ms: 456 },
  { name: "PyTorch 1.13 on the CPU", ms: 355 },
  { name: "jax-js on its multithreaded wasm backend", ms: 108 },
];

const TARGET_MS = 150;

function key(r: StepRecord): string {
  return r.rank === null ? r.method : `${r.method} r=${r.rank}`;
}

function loraAt(records: readonly StepRecord[], rank: number | null): StepRecord | undefined {
  return records.find((r) => r.method === "lora" && r.rank === rank);
}

function mib(bytes: number): number {
  return bytes / 2 ** 20;
}

function stepTable(records: readonly StepRecord[]): ReportTable {
  const rows: Cell[][] = records.map((r) => {
    const lora = r.method === "mora" ? loraAt(records, r.rank) : undefined;
    return [
      r.method + (r.variant ? ` (${r.variant})` : ""),
      r.rank,
      r.trainableParams,
      r.timing.bestMs,
      r.timing.meanMs,
      (r.batch * r.seqLen) / (r.timing.bestMs / 1000),
      r.trainsBase ? r.stepFlops / (r.timing.bestMs * 1e6) : null,
      mib(r.peakBytes),
      lora ? r.timing.bestMs / lora.timing.bestMs : null,
      lora ? r.peakBytes / lora.peakBytes : null,
      r.merges
        ? `${r.merges.meanMs.toFixed(1)} ms every ${r.merges.every} steps (${r.merges.count} merges)`
        : null,
    ];
  });
  return {
    caption: "One training step (forward, backward, clip, AdamW), best and mean of the trials; ReLoRA and " +
      "ReMoRA merge within the run, and their merge time is left out of the step time and shown apart",
    columns: [
      "method",
      "r",
      "trainable params",
      "ms/step (best)",
      "ms/step (mean)",
      "tokens/s",
      "GFLOP/s",
      "peak MiB",
      "time ÷ LoRA",
      "memory ÷ LoRA",
      "merge",
    ],
    rows,
  };
}

function paperTable(records: readonly StepRecord[]): ReportTable {
  const paper = paperResults.table5_speed_memory.rows;
  const ratio = (rank: number) => {
    const lora = paper.find((r) => r.method === "LoRA" && r.rank === rank)!;
    const mora = paper.find((r) => r.method === "MoRA" && r.rank === rank)!;
    return lora.speed / mora.speed; // the paper's speed is higher-is-faster, so time ratio = inverse
  };
  const ours = records.filter((r) => r.method === "mora");
  return {
    caption: "MoRA's step time relative to LoRA at the same rank: paper Table 5 (7B, one GPU) and ours",
    columns: ["rank (paper)", "paper time ÷ LoRA", "rank (ours)", "variant", "our time ÷ LoRA", "target"],
    rows: [8, 256].map((rank, i) => {
      const r = ours[i];
      const lora = r ? loraAt(records, r.rank) : undefined;
      return [
        rank,
        ratio(rank),
        r?.rank ?? null,
        r?.variant ?? null,
        r && lora ? r.timing.bestMs / lora.timing.bestMs : null,
        i === 0 ? "≤ 1.05" : "≤ 1.0",
      ];
    }),
  };
}

function intro(records: readonly StepRecord[], env: Environment): string {
  const fft = records.find((r) => r.trainsBase);
  const cfg = records[0];
  const parts = [
    `<p>The reference config (hidden 128, 2 layers, 4 heads, intermediate 512, vocab 256) at batch ${cfg?.batch} ` +
    `and sequence ${cfg?.seqLen}, ≈${
      fft ? (fft.stepFlops / 1e9).toFixed(2) : "2"
    } GFLOP per full fine-tuning ` +
    `step, on <b>${
      escapeHtml(env.adapter.description)
    }</b>. All methods run side by side in one bench run; ` +
    `peak bytes count every buffer the step allocates (WebGPU has no memory query).</p>`,
  ];
  if (env.adapter.isFallbackAdapter && fft) {
    const others = STEP_REFERENCES.map((s) => `${escapeHtml(s.name)} ${s.ms} ms`).join(", ");
    parts.push(
      `<p>Software-adapter timings: full fine-tuning takes <b>${
        fft.timing.bestMs.toFixed(0)
      } ms</b> per step ` +
        `(target ≤ ${TARGET_MS} ms). The same config measured on the same 2 cores: ${others}.</p>`,
    );
  }
  return parts.join("\n");
}

/** The section of the training-step records. */
export function trainingSection(records: readonly StepRecord[], env: Environment): ReportSection {
  const values: Datum[] = records.map((r) => ({
    case: key(r),
    method: r.method,
    rank: r.rank === null ? "full" : `r=${r.rank}`,
    ms: r.timing.bestMs,
    mib: mib(r.peakBytes),
  }));
  const tables = [stepTable(records)];
  if (records.some((r) => r.method === "mora")) tables.push(paperTable(records));
  return {
    id: "training",
    title: "Training step: time and memory per method",
    intro: intro(records, env),
    tables,
    charts: [
      {
        name: "training-step-ms",
        spec: barChart({
          title: "ms per training step",
          values,
          category: { field: "method", title: "Method" },
          value: { field: "ms", title: "ms/step (best)", type: "quantitative" },
          group: { field: "rank", title: "Rank" },
        }),
      },
      {
        name: "training-peak-mib",
        spec: barChart({
          title: "Peak GPU MiB per training step",
          values,
          category: { field: "method", title: "Method" },
          value: { field: "mib", title: "peak MiB", type: "quantitative" },
          group: { field: "rank", title: "Rank" },
        }),
      },
    ],
  };
}

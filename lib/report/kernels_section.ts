/**
 * The kernel benchmark's report section: matmul GFLOP/s against reference points and against jax-js's
 * WebAssembly matmul timed in the same run, the matmul speed target, causal attention and RMSNorm, as
 * tables and charts. Pure: records in, section out.
 *
 * @module
 */

import { formatMedianIqr, IQR_MEANING, medianIqr, pairedRatio, verdictAtMost } from "../experiment/stats.ts";
import type { Environment } from "../harness/env.ts";
import { recordGflops, recordGigabytes } from "../harness/kernel_records.ts";
import { gflopsPerSecond } from "../harness/timing.ts";
import type { KernelRecord } from "../records.ts";
import { barChart, type Datum } from "./charts.ts";
import { escapeHtml } from "./html.ts";
import { type Cell, formatCell, type ReportChart, type ReportSection, type ReportTable } from "./model.ts";

/** A matmul throughput measured elsewhere, shown beside ours. */
export interface MatmulReference {
  /** Implementation and version. */
  name: string;
  /** Its float32 matmul throughput. */
  gflops: number;
  /** Where the project measured it. */
  measuredOn: string;
}

/** Reference points the project measured on the machine the software-adapter numbers come from. */
export const MATMUL_REFERENCES: readonly MatmulReference[] = [
  { name: "OpenBLAS sgemm (CPU)", gflops: 190, measuredOn: "the same 2 CPU cores, without WebGPU" },
  { name: "tfjs-backend-webgpu 4.22", gflops: 5.7, measuredOn: "the same software adapter" },
  { name: "jax-js 0.1.25 (WebGPU)", gflops: 5.4, measuredOn: "the same software adapter" },
  { name: "naive WGSL matmul", gflops: 1.8, measuredOn: "the same software adapter" },
];

const OPENBLAS = MATMUL_REFERENCES[0]!;

/**
 * The section of the kernel records (any mix of matmul, attention and RMSNorm).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { recordEnvironment } from "../harness/env.ts";
 * import type { KernelRecord } from "../records.ts";
 *
 * const environment = await recordEnvironment({
 *   vendor: "mesa",
 *   architecture: "",
 *   description: "llvmpipe",
 *   isFallbackAdapter: true,
 * });
 * const timing = { meanMs: 3.2, bestMs: 3.1, repetitions: 16, trialsMs: [3.1, 3.2, 3.3] };
 * const records: KernelRecord[] = [{
 *   op: "matmul",
 *   label: "nt 256×256×256",
 *   params: { layout: "nt", m: 256, n: 256, k: 256 },
 *   pass: "forward",
 *   flops: 2 * 256 ** 3,
 *   bytes: 0,
 *   timing,
 * }];
 * const section = kernelsSection(records, environment);
 * assert.equal(section.id, "kernels");
 * ```
 */
export function kernelsSection(records: readonly KernelRecord[], env: Environment): ReportSection {
  const matmuls = records.filter((r) => r.op === "matmul");
  const attention = records.filter((r) => r.op === "attention");
  const rmsnorm = records.filter((r) => r.op === "rmsnorm");
  const best = bestMatmul(matmuls);
  const tables: ReportTable[] = [];
  const charts: ReportChart[] = [];
  if (matmuls.length > 0) {
    tables.push(matmulTable(matmuls), referenceTable(best));
    charts.push(matmulChart(matmuls), referenceChart(best));
  }
  const peers = records.filter((r) => r.op === "matmul-peer");
  if (peers.length > 0) tables.push(peerTable(peers));
  const targets = matmulTargetRows(matmuls, peers);
  if (targets.length > 0 && env.adapter.isFallbackAdapter) tables.push(matmulTargetsTable(targets));
  if (attention.length > 0) {
    tables.push(attentionTable(attention));
    charts.push(
      throughputChart("kernels-attention", "Causal attention forward+backward", attention, "GFLOP/s"),
    );
  }
  if (rmsnorm.length > 0) {
    tables.push(rmsnormTable(rmsnorm));
    charts.push(throughputChart("kernels-rmsnorm", "RMSNorm forward+backward", rmsnorm, "GB/s"));
  }
  return { id: "kernels", title: "Kernel benchmarks", intro: kernelsIntro(best, env), tables, charts };
}

function bestMatmul(matmuls: readonly KernelRecord[]): KernelRecord | undefined {
  return matmuls.reduce<KernelRecord | undefined>(
    (best, r) => (best && recordGflops(best)! >= recordGflops(r)! ? best : r),
    undefined,
  );
}

function kernelsIntro(best: KernelRecord | undefined, env: Environment): string {
  const adapter = escapeHtml(env.adapter.description);
  const parts = [
    `<p>WGSL kernels on <b>${adapter}</b>. Each case is warmed up, then R repetitions are encoded into one ` +
    `command buffer and waited for once; the tables give the ${IQR_MEANING} and the best of the trials, per ` +
    `repetition, and throughput at the best time.</p>`,
  ];
  if (env.adapter.isFallbackAdapter) {
    parts.push(
      `<p><b>Software-adapter timings</b> (isFallbackAdapter): the kernels ran on the CPU through a software ` +
        `Vulkan/WebGPU implementation (such as Mesa's lavapipe), so these are CPU timings of WGSL code.</p>`,
    );
  }
  if (best) parts.push(`<p>${openBlasGap(best, env)}</p>`);
  return parts.join("\n");
}

function openBlasGap(best: KernelRecord, env: Environment): string {
  const gflops = recordGflops(best)!;
  const sameMachine = env.adapter.isFallbackAdapter
    ? ""
    : " The reference points were measured on a 2-core machine's software adapter, not this adapter, " +
      "so the comparison is not like for like.";
  return `Our best matmul (${escapeHtml(best.label)}) reaches ${formatCell(gflops)} GFLOP/s: ` +
    `${formatCell(OPENBLAS.gflops / gflops)}× below OpenBLAS (${OPENBLAS.gflops} GFLOP/s on the same 2 CPU ` +
    `cores). Other WebGPU implementations measured on the same software adapter: ` +
    MATMUL_REFERENCES.slice(1).map((r) => `${escapeHtml(r.name)} ${r.gflops}`).join(", ") +
    ` GFLOP/s.${sameMachine}`;
}

function matmulTable(records: readonly KernelRecord[]): ReportTable {
  return {
    caption: "Matmul (forward, float32)",
    columns: ["Layout", "M", "N", "K", "ms: median [IQR]", "Best ms", "GFLOP/s", "R", "OpenBLAS ÷ ours"],
    rows: records.map((r) => {
      const gflops = recordGflops(r)!;
      const { layout, m, n, k } = r.params;
      return [
        String(layout),
        Number(m),
        Number(n),
        Number(k),
        spreadCell(r),
        r.timing.bestMs,
        gflops,
        r.timing.repetitions,
        `${formatCell(OPENBLAS.gflops / gflops)}×`,
      ];
    }),
  };
}

function referenceTable(best: KernelRecord | undefined): ReportTable {
  const ours = best ? recordGflops(best)! : null;
  return {
    caption: "Matmul reference points",
    columns: ["Implementation", "GFLOP/s", "Measured on", "Ours ÷ it"],
    rows: [
      ...(best ? [[`This project (${best.label})`, ours, "this run", "1×"]] : []),
      ...MATMUL_REFERENCES.map((r) => [
        r.name,
        r.gflops,
        r.measuredOn,
        ours === null ? null : `${formatCell(ours / r.gflops)}×`,
      ]),
    ],
  };
}

/** GFLOP/s at the median of a timing. */
const medianGflops = (flops: number, timing: KernelRecord["timing"]) =>
  gflopsPerSecond(flops, medianIqr(timing.trialsMs).median);

function peerTable(records: readonly KernelRecord[]): ReportTable {
  return {
    caption:
      `Our matmul against another implementation's on the same operands, timed in interleaved rounds ` +
      `(ours, theirs, ours, …; ms are the ${IQR_MEANING}, the ratio paired round by round); the two products ` +
      `were checked equal before timing`,
    columns: ["Product", "Ours ms", "Ours GFLOP/s", "Peer", "Peer ms", "Peer GFLOP/s", "Our time ÷ peer's"],
    rows: records.map((r) => [
      shapeLabel(r),
      spreadCell(r),
      medianGflops(r.flops, r.timing),
      r.peer!.name,
      formatMedianIqr(medianIqr(r.peer!.timing.trialsMs), 3),
      medianGflops(r.flops, r.peer!.timing),
      formatMedianIqr(pairedRatio(r.timing.trialsMs, r.peer!.timing.trialsMs)),
    ]),
  };
}

/** The issue "Speed"'s matmul target: at least this many GFLOP/s at 1024³ in every layout. */
const MATMUL_TARGET_GFLOPS = 50;

/** Target rows: each layout's 1024³ time against the bound, and our time against the peer's. */
function matmulTargetRows(matmuls: readonly KernelRecord[], peers: readonly KernelRecord[]): Cell[][] {
  const rows: Cell[][] = [];
  for (const r of matmuls.filter((r) => r.params.m === 1024 && r.params.n === 1024 && r.params.k === 1024)) {
    const boundMs = r.flops / (MATMUL_TARGET_GFLOPS * 1e6);
    rows.push([
      `${r.label} GFLOP/s (at the median; ms ${spreadCell(r)})`,
      medianGflops(r.flops, r.timing),
      `≥ ${MATMUL_TARGET_GFLOPS} (≤ ${boundMs.toFixed(1)} ms)`,
      verdictAtMost(medianIqr(r.timing.trialsMs), boundMs),
    ]);
  }
  for (const r of peers) {
    const ratio = pairedRatio(r.timing.trialsMs, r.peer!.timing.trialsMs);
    rows.push([
      `${r.label}: our time ÷ the peer's`,
      formatMedianIqr(ratio),
      "≤ 1 (ahead)",
      verdictAtMost(ratio, 1),
    ]);
  }
  return rows;
}

function matmulTargetsTable(rows: Cell[][]): ReportTable {
  return {
    caption:
      "Matmul targets on the software adapter: met when the third quartile of the time (or of the paired " +
      "ratio) is within the bound, missed when its first quartile is beyond it, inconclusive when the spread " +
      "crosses it",
    columns: ["Measure", "Measured", "Target", "Verdict"],
    rows,
  };
}

function matmulChart(records: readonly KernelRecord[]): ReportChart {
  const values: Datum[] = records.map((r) => ({
    shape: shapeLabel(r),
    layout: String(r.params.layout),
    gflops: recordGflops(r),
  }));
  return {
    name: "kernels-matmul",
    spec: barChart({
      title: "Matmul GFLOP/s by shape (M×N×K) and layout",
      values,
      category: { field: "shape", title: "M×N×K" },
      value: { field: "gflops", title: "GFLOP/s (best)" },
      group: { field: "layout", title: "Layout" },
    }),
  };
}

/** A kernel's time over its trials: median [first–third quartile], ms. */
function spreadCell(r: KernelRecord): string {
  return formatMedianIqr(medianIqr(r.timing.trialsMs), 3);
}

function shapeLabel(r: KernelRecord): string {
  const { m, n, k } = r.params;
  return m === n && n === k ? `${m}³` : `${m}×${n}×${k}`;
}

function referenceChart(best: KernelRecord | undefined): ReportChart {
  const values: Datum[] = [
    ...(best
      ? [{ name: `This project (${best.label})`, gflops: recordGflops(best), source: "this run" }]
      : []),
    ...MATMUL_REFERENCES.map((r) => ({ name: r.name, gflops: r.gflops, source: "reference" })),
  ];
  return {
    name: "kernels-matmul-references",
    spec: barChart({
      title: "Matmul GFLOP/s: ours and reference points (log scale)",
      values,
      category: { field: "name", title: "Implementation" },
      value: { field: "gflops", title: "GFLOP/s", log: true },
      color: { field: "source", title: "Source" },
      horizontal: true,
    }),
  };
}

function attentionTable(records: readonly KernelRecord[]): ReportTable {
  return {
    caption: "Causal attention, forward+backward (model FLOPs, recompute not counted)",
    columns: ["Batch", "Seq", "Heads", "Head dim", "ms: median [IQR]", "Best ms", "GFLOP/s", "R"],
    rows: records.map((r) => [
      Number(r.params.batch),
      Number(r.params.seqLen),
      Number(r.params.heads),
      Number(r.params.headDim),
      spreadCell(r),
      r.timing.bestMs,
      recordGflops(r),
      r.timing.repetitions,
    ]),
  };
}

function rmsnormTable(records: readonly KernelRecord[]): ReportTable {
  return {
    caption: "RMSNorm, forward+backward (minimum bytes moved)",
    columns: ["Rows", "Dim", "ms: median [IQR]", "Best ms", "GB/s", "R"],
    rows: records.map((r) => [
      Number(r.params.rows),
      Number(r.params.dim),
      spreadCell(r),
      r.timing.bestMs,
      recordGigabytes(r),
      r.timing.repetitions,
    ]),
  };
}

function throughputChart(
  name: string,
  title: string,
  records: readonly KernelRecord[],
  unit: "GFLOP/s" | "GB/s",
): ReportChart {
  const values: Datum[] = records.map((r) => ({
    case: r.label,
    value: unit === "GB/s" ? recordGigabytes(r) : recordGflops(r),
  }));
  return {
    name,
    spec: barChart({
      title: `${title}, ${unit}`,
      values,
      category: { field: "case", title: "Case" },
      value: { field: "value", title: `${unit} (best)` },
    }),
  };
}

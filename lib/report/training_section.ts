/**
 * The training-step section (paper Table 5): per configuration, ms per step (median and interquartile range of
 * interleaved rounds), tokens/s and peak GPU bytes per method and rank; each adapter's time as a ratio to full
 * fine-tuning's and MoRA's to LoRA's, paired round by round with the spread of the ratio; the speed targets
 * with a verdict that says "inconclusive" when the spread crosses the bound; the paper's Table 5 ratios beside
 * ours; full fine-tuning next to other frameworks measured on the same 2-core machine; and, where the optional
 * PyTorch-CPU peer was timed in the same rounds (the medium config), each method's step next to PyTorch's, or
 * the reason it was skipped. Pure: records in, section out.
 *
 * @module
 */

import { paperResults } from "../paper/results.ts";
import {
  formatMedianIqr,
  IQR_MEANING,
  type MedianIqr,
  medianIqr,
  pairedRatio,
  verdictAtMost,
} from "../experiment/stats.ts";
import type { Environment } from "../harness/env.ts";
import type { StepRecord } from "../records.ts";
import { barChart, type Datum } from "./charts.ts";
import { escapeHtml } from "./html.ts";
import type { Cell, ReportChart, ReportSection, ReportTable } from "./model.ts";

/**
 * Step times of other frameworks on the reference config, measured once by the project on the same 2 cores
 * (old one-off figures); `framework` links an entry to the same-run peer whose records may replace it.
 */
export const STEP_REFERENCES: readonly { name: string; ms: number; framework?: StepRecord["framework"] }[] = [
  { name: "tfjs-backend-webgpu (software adapter)", ms: 610 },
  { name: "jax-js on WebGPU (software adapter)", ms: 456 },
  { name: "PyTorch 1.13 on the CPU", ms: 355, framework: "pytorch-cpu" },
  { name: "jax-js on its multithreaded wasm backend", ms: 108 },
];

/** The speed targets (issue "Speed"): bounds on ratios of a method's step to a same-run baseline's. */
const RATIO_TARGETS: readonly { config: string; of: Key; to: Key; atMost: number }[] = [
  { config: "reference", of: ["lora", 8], to: ["fft", null], atMost: 1 },
  { config: "reference", of: ["mora", 8], to: ["fft", null], atMost: 1 },
  { config: "medium", of: ["lora", 8], to: ["fft", null], atMost: 0.7 },
  { config: "medium", of: ["mora", 8], to: ["fft", null], atMost: 0.7 },
  // Paper Table 5: MoRA about 1.15× LoRA's time at the small rank, no slower at the large one.
  ...["reference", "medium", "paper"].flatMap((config) => [
    { config, of: ["mora", 8] as Key, to: ["lora", 8] as Key, atMost: 1.15 },
    { config, of: ["mora", 32] as Key, to: ["lora", 32] as Key, atMost: 1 },
    { config, of: ["mora", 256] as Key, to: ["lora", 256] as Key, atMost: 1 },
  ]),
];

/** Full fine-tuning's step on the reference config, software adapter (issue "Speed"). */
const FFT_TARGET_MS = 70;

type Key = [method: string, rank: number | null];

const label = (r: StepRecord) => r.rank === null ? r.method : `${r.method} r=${r.rank}`;
const mib = (bytes: number) => bytes / 2 ** 20;
const find = (records: readonly StepRecord[], [method, rank]: Key) =>
  records.find((r) => r.method === method && r.rank === rank);
/** The same method case of another framework: method, rank and variant. */
const sameCase = (a: StepRecord, b: StepRecord) =>
  a.method === b.method && a.rank === b.rank && a.variant === b.variant;

/** Round-by-round ratio of a's step time to b's, or undefined when they were not timed together. */
function timeRatio(a: StepRecord, b: StepRecord): MedianIqr | undefined {
  if (a.config !== b.config || a.timing.trialsMs.length !== b.timing.trialsMs.length) return undefined;
  return pairedRatio(a.timing.trialsMs, b.timing.trialsMs);
}

const ratioCell = (ratio: MedianIqr | undefined): Cell => ratio ? formatMedianIqr(ratio) : null;

function stepTable(config: string, records: readonly StepRecord[]): ReportTable {
  const fft = find(records, ["fft", null]);
  const rows: Cell[][] = records.map((r) => {
    const ms = medianIqr(r.timing.trialsMs);
    const lora = r.method === "mora" ? find(records, ["lora", r.rank]) : undefined;
    return [
      r.method + (r.variant ? ` (${r.variant})` : ""),
      r.rank,
      r.trainableParams,
      formatMedianIqr(ms, 1),
      r.timing.bestMs,
      (r.batch * r.seqLen) / (ms.median / 1000),
      r.trainsBase ? r.stepFlops / (ms.median * 1e6) : null,
      mib(r.peakBytes),
      fft && r !== fft ? ratioCell(timeRatio(r, fft)) : null,
      lora ? ratioCell(timeRatio(r, lora)) : null,
      lora ? r.peakBytes / lora.peakBytes : null,
      r.merges
        ? `${r.merges.meanMs.toFixed(1)} ms every ${r.merges.every} steps (${r.merges.count} merges)`
        : null,
    ];
  });
  const first = records[0]!;
  return {
    caption:
      `${config} config, batch ${first.batch} × sequence ${first.seqLen}: one training step (forward, ` +
      `backward, clip, AdamW) per method, ${first.timing.trialsMs.length} interleaved rounds; ms/step and the ` +
      `ratios are ${IQR_MEANING}, the ratios paired round by round. ReLoRA and ReMoRA merge within the run; ` +
      `their merge time is left out of the step time and shown apart`,
    columns: [
      "method",
      "r",
      "trainable params",
      "ms/step",
      "ms/step (best)",
      "tokens/s",
      "GFLOP/s",
      "peak MiB",
      "time ÷ FFT",
      "time ÷ LoRA",
      "memory ÷ LoRA",
      "merge",
    ],
    rows,
  };
}

function targetsTable(byConfig: Map<string, StepRecord[]>, env: Environment): ReportTable {
  const rows: Cell[][] = [];
  for (const t of RATIO_TARGETS) {
    const records = byConfig.get(t.config) ?? [];
    const of = find(records, t.of), to = find(records, t.to);
    const ratio = of && to ? timeRatio(of, to) : undefined;
    if (!ratio) continue;
    rows.push([
      t.config,
      `${label(of!)} time ÷ ${label(to!)}`,
      formatMedianIqr(ratio),
      `≤ ${t.atMost}`,
      verdictAtMost(ratio, t.atMost),
    ]);
  }
  for (const [config, records] of byConfig) {
    for (const mora of records.filter((r) => r.method === "mora")) {
      const lora = find(records, ["lora", mora.rank]);
      if (!lora) continue;
      const ratio = mora.peakBytes / lora.peakBytes;
      rows.push([
        config,
        `${label(mora)} peak bytes ÷ LoRA's`,
        ratio.toFixed(3),
        "≤ 1",
        ratio <= 1 ? "met" : "missed",
      ]);
    }
  }
  const fft = find(byConfig.get("reference") ?? [], ["fft", null]);
  if (fft && env.adapter.isFallbackAdapter) {
    const ms = medianIqr(fft.timing.trialsMs);
    const verdict = verdictAtMost(ms, FFT_TARGET_MS);
    rows.push([
      "reference",
      "full fine-tuning ms/step",
      formatMedianIqr(ms, 1),
      `≤ ${FFT_TARGET_MS}`,
      verdict,
    ]);
  }
  return {
    caption:
      "Speed and memory targets, each a ratio to a baseline timed in the same interleaved rounds: met " +
      "when the third quartile of the ratio is within the bound, missed when its first quartile is beyond it, " +
      "inconclusive when the spread crosses it",
    columns: ["config", "measure", "measured", "target", "verdict"],
    rows,
  };
}

function paperTable(records: readonly StepRecord[]): ReportTable {
  const paper = paperResults.table5_speed_memory.rows;
  const paperRatio = (rank: number) => {
    const lora = paper.find((r) => r.method === "LoRA" && r.rank === rank)!;
    const mora = paper.find((r) => r.method === "MoRA" && r.rank === rank)!;
    return lora.speed / mora.speed; // the paper's speed is higher-is-faster, so time ratio = inverse
  };
  const ours = records.filter((r) => r.method === "mora");
  return {
    caption: `MoRA's step time relative to LoRA at the same rank: paper Table 5 (7B, one GPU) and ours ` +
      `(${records[0]!.config} config; ${IQR_MEANING} of the paired rounds)`,
    columns: ["rank (paper)", "paper time ÷ LoRA", "rank (ours)", "variant", "our time ÷ LoRA"],
    rows: [8, 256].map((rank, i) => {
      const r = ours[i];
      const lora = r ? find(records, ["lora", r.rank]) : undefined;
      return [
        rank,
        paperRatio(rank),
        r?.rank ?? null,
        r?.variant ?? null,
        ratioCell(r && lora && timeRatio(r, lora)),
      ];
    }),
  };
}

/** Each method of a config next to the same case in the peer framework, timed in the same rounds. */
function peerTable(
  config: string,
  ours: readonly StepRecord[],
  peers: readonly StepRecord[],
  env: Environment,
): ReportTable {
  const rows: Cell[][] = ours.flatMap((r) => {
    const peer = peers.find((p) => sameCase(p, r));
    if (!peer) return [];
    return [[
      r.method + (r.variant ? ` (${r.variant})` : ""),
      r.rank,
      r.trainableParams,
      peer.trainableParams,
      formatMedianIqr(medianIqr(r.timing.trialsMs), 1),
      formatMedianIqr(medianIqr(peer.timing.trialsMs), 1),
      ratioCell(timeRatio(r, peer)),
    ]];
  });
  const first = peers[0]!;
  return {
    caption:
      `${config} config, batch ${first.batch} × sequence ${first.seqLen}: ours vs PyTorch on the same ` +
      `${env.cpuCount} CPU cores, same run: one training step (forward, backward, clip 1.0, AdamW) per method, ` +
      `ours on ${env.adapter.description}, PyTorch's (${first.frameworkBuild}; benchmarks/torch_peer.py) on ` +
      `the CPU, both in the same ${first.timing.trialsMs.length} interleaved rounds; ms/step and the ratio are ` +
      `${IQR_MEANING}, the ratio paired round by round`,
    columns: [
      "method",
      "r",
      "trainable params",
      "PyTorch trainable params",
      "ms/step",
      "PyTorch ms/step",
      "time ÷ PyTorch",
    ],
    rows,
  };
}

/** One line per config whose peer was skipped, with the reason its records give. */
function peerSkips(byConfig: Map<string, StepRecord[]>): string[] {
  return [...byConfig].flatMap(([config, rs]) => {
    const reason = rs.find((r) => r.peerSkipped !== undefined)?.peerSkipped;
    return reason === undefined ? [] : [`${config} config, PyTorch-CPU peer skipped: ${reason}`];
  });
}

function references(peerFrameworks: ReadonlySet<string>): string {
  return STEP_REFERENCES.map((s) => {
    const sameRun = s.framework && peerFrameworks.has(s.framework)
      ? " (an old one-off figure; this run timed it alongside ours: see the table ours vs PyTorch)"
      : "";
    return `${escapeHtml(s.name)} ${s.ms} ms${sameRun}`;
  }).join(", ");
}

function intro(byConfig: Map<string, StepRecord[]>, peers: readonly StepRecord[], env: Environment): string {
  const configs = [...byConfig].map(([name, rs]) => {
    const fft = find(rs, ["fft", null]);
    const gflop = fft ? `, ≈${(fft.stepFlops / 1e9).toFixed(1)} GFLOP per full fine-tuning step` : "";
    return `<b>${escapeHtml(name)}</b> (batch ${rs[0]!.batch} × sequence ${rs[0]!.seqLen}${gflop})`;
  });
  const parts = [
    `<p>Configurations: ${configs.join("; ")}. The reference config is hidden 128, 2 layers, 4 heads, ` +
    `intermediate 512, vocab 256; the medium one hidden 512, 4 layers, 8 heads, intermediate 1376. On ` +
    `<b>${
      escapeHtml(env.adapter.description)
    }</b>. Every method of a configuration is set up first, then all ` +
    `are timed in interleaved rounds (A B C …, B C A …), so that drift of the machine hits them alike; each ` +
    `ratio pairs round i of one method with round i of the other. Peak bytes count every buffer the step ` +
    `allocates (WebGPU has no device memory query).</p>`,
  ];
  const fft = find(byConfig.get("reference") ?? [], ["fft", null]);
  if (env.adapter.isFallbackAdapter && fft) {
    const others = references(new Set(peers.map((p) => p.framework!)));
    parts.push(
      `<p>Software-adapter timings: full fine-tuning takes <b>${
        medianIqr(fft.timing.trialsMs).median.toFixed(0)
      } ms</b> per step on the reference config (target ≤ ${FFT_TARGET_MS} ms). The same config measured on ` +
        `the same 2 cores: ${others}.</p>`,
    );
  }
  for (const skip of peerSkips(byConfig)) parts.push(`<p>${escapeHtml(skip)}.</p>`);
  return parts.join("\n");
}

function charts(byConfig: Map<string, StepRecord[]>): ReportChart[] {
  const values: Datum[] = [...byConfig.values()].flat().map((r) => ({
    config: r.config,
    method: r.method,
    rank: r.rank === null ? "full" : `r=${r.rank}`,
    ms: medianIqr(r.timing.trialsMs).median,
    mib: mib(r.peakBytes),
  }));
  return [...byConfig.keys()].flatMap((config) => {
    const rows = values.filter((v) => v.config === config);
    const bars = (name: string, title: string, field: string, axis: string) => ({
      name: `training-${name}-${config}`,
      spec: barChart({
        title: `${title} (${config} config)`,
        values: rows,
        category: { field: "method", title: "Method" },
        value: { field, title: axis, type: "quantitative" },
        group: { field: "rank", title: "Rank" },
      }),
    });
    return [
      bars("step-ms", "ms per training step", "ms", "ms/step (median)"),
      bars("peak-mib", "Peak GPU MiB per training step", "mib", "peak MiB"),
    ];
  });
}

/** The section of the training-step records. */
export function trainingSection(records: readonly StepRecord[], env: Environment): ReportSection {
  const byConfig = new Map<string, StepRecord[]>();
  for (const r of records.filter((r) => r.framework === undefined)) {
    byConfig.set(r.config, [...byConfig.get(r.config) ?? [], r]);
  }
  const peers = records.filter((r) => r.framework !== undefined);
  const tables = [...byConfig].map(([config, rs]) => stepTable(config, rs));
  for (const [config, rs] of byConfig) {
    const theirs = peers.filter((p) => p.config === config);
    if (theirs.length > 0) tables.push(peerTable(config, rs, theirs, env));
  }
  tables.push(targetsTable(byConfig, env));
  const table5 = byConfig.get("paper") ?? byConfig.get("reference");
  if (table5?.some((r) => r.method === "mora")) tables.push(paperTable(table5));
  return {
    id: "training",
    title: "Training step: time and memory per method (paper Table 5)",
    intro: intro(byConfig, peers, env),
    tables,
    charts: charts(byConfig),
  };
}

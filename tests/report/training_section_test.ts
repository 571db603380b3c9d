import assert from "node:assert/strict";
import { formatMedianIqr, medianIqr, pairedRatio } from "../../lib/experiment/stats.ts";
import type { StepRecord } from "../../lib/records.ts";
import { trainingSection } from "../../lib/report/training_section.ts";
import { SOFTWARE_ENVIRONMENT } from "../_environment.ts";

const ENV = SOFTWARE_ENVIRONMENT;

/** A step record of `config` whose rounds took `trialsMs`. */
function step(
  config: string,
  [method, rank, variant]: [string, number | null, string?],
  trialsMs: number[],
  extra: Partial<StepRecord> = {},
): StepRecord {
  return {
    method,
    rank,
    ...variant ? { variant } : {},
    trainsBase: rank === null,
    config,
    batch: 2,
    seqLen: 128,
    trainableParams: rank === null ? 1000 : 10 * rank,
    stepFlops: 2e10,
    peakBytes: 2 ** 20,
    timing: { meanMs: 0, bestMs: Math.min(...trialsMs), repetitions: 3, trialsMs },
    ...extra,
  };
}

const CASES: [string, number | null, string?][] = [["fft", null], ["lora", 8], ["mora", 8, "rotation"]];
const OURS_MS = [[300, 320, 310], [150, 160, 155], [170, 175, 180]];
const PEER_MS = [[600, 640, 600], [200, 200, 220], [340, 350, 300]];
const PEER = {
  framework: "pytorch-cpu",
  frameworkBuild: "torch 1.13.1, BLAS blas/libblas.so.3.11.0, 2 threads",
} as const;

const ours = CASES.map((c, i) => step("medium", c, OURS_MS[i]!));
// The peer's records first: a lookup by method and rank that did not filter them would find them first.
const peers = CASES.map((c, i) =>
  step("medium", c, PEER_MS[i]!, { ...PEER, trainableParams: 7, peakBytes: 0 })
);
const referenceFft = step("reference", ["fft", null], [60, 61, 62]);

Deno.test("the medium config's same-run PyTorch table: ours and PyTorch's ms/step and the paired ratio", () => {
  const section = trainingSection([...peers, referenceFft, ...ours], ENV);
  const table = section.tables.find((t) => t.caption?.includes("ours vs PyTorch"))!;
  const caption = table.caption ?? "";
  assert.match(
    caption,
    /^medium config, batch 2 × sequence 128: ours vs PyTorch on the same 2 CPU cores/,
  );
  assert.match(caption, /same run/);
  assert.ok(
    caption.includes("(torch 1.13.1, BLAS blas/libblas.so.3.11.0, 2 threads; benchmarks/torch_peer.py)"),
  );
  assert.deepEqual(
    table.rows,
    CASES.map(([method, rank, variant], i) => [
      method + (variant ? ` (${variant})` : ""),
      rank,
      ours[i]!.trainableParams,
      7,
      formatMedianIqr(medianIqr(OURS_MS[i]!), 1),
      formatMedianIqr(medianIqr(PEER_MS[i]!), 1),
      formatMedianIqr(pairedRatio(OURS_MS[i]!, PEER_MS[i]!)),
    ]),
  );
  assert.match(
    section.intro,
    /PyTorch 1\.13 on the CPU 355 ms \(an old one-off figure; this run timed it alongside/,
  );
});

Deno.test("the peer's records stay out of our step tables, targets and charts", () => {
  const section = trainingSection([...peers, referenceFft, ...ours], ENV);
  const medium = section.tables.find((t) =>
    t.caption?.startsWith("medium config") && t.columns[0] === "method"
  )!;
  assert.equal(medium.rows.length, 3);
  assert.deepEqual(medium.rows.map((row) => row[3]), OURS_MS.map((ms) => formatMedianIqr(medianIqr(ms), 1)));
  const targets = section.tables.find((t) => t.caption?.startsWith("Speed and memory targets"))!;
  const loraOverFft = targets.rows.find((row) => row[0] === "medium" && row[1] === "lora r=8 time ÷ fft")!;
  assert.equal(loraOverFft[2], formatMedianIqr(pairedRatio(OURS_MS[1]!, OURS_MS[0]!)));
  const peakRatio = targets.rows.find((row) => row[0] === "medium" && String(row[1]).includes("peak bytes"))!;
  assert.equal(peakRatio[2], "1.000", "MoRA's peak over LoRA's: ours, not the peer's 0 bytes");
  const chart = section.charts.find((c) => c.name === "training-step-ms-medium")!;
  assert.equal((chart.spec as { data: { values: unknown[] } }).data.values.length, 3);
});

Deno.test("a skipped peer is one line with its reason; old records without peer fields report as before", () => {
  const reason = "python3 cannot import torch (No module named 'torch')";
  const skipped = ours.map((r) => ({ ...r, peerSkipped: reason }));
  const section = trainingSection([referenceFft, ...skipped], ENV);
  assert.ok(
    section.intro.includes(
      `<p>medium config, PyTorch-CPU peer skipped: ${reason.replaceAll("'", "&#39;")}.</p>`,
    ),
  );
  assert.ok(!section.tables.some((t) => t.caption?.includes("ours vs PyTorch")));
  assert.match(section.intro, /PyTorch 1\.13 on the CPU 355 ms, /, "no same-run note without a peer");
  const old = trainingSection([referenceFft, ...ours], ENV);
  assert.doesNotMatch(old.intro, /peer/);
  assert.deepEqual(old.tables.map((t) => t.rows), section.tables.map((t) => t.rows));
});

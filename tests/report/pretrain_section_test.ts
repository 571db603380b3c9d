import assert from "node:assert/strict";
import type { PretrainRunRecord } from "../../lib/records.ts";
import { compareMeans, pretrainSection } from "../../lib/report/pretrain_section.ts";

const PROVENANCE = {
  adapter: "test",
  softwareAdapter: true,
  commit: "abc",
  deno: "2.9.6",
  date: "2026-12-01T00:00:00Z",
  preset: "quick",
};

/** A Table 3 record with a given perplexity and singular-value count in every module. */
function record(method: string, seed: number, perplexity: number, count: number): PretrainRunRecord {
  const merges = method.startsWith("re") ? [{ step: 48, ms: 5 }, { step: 96, ms: 5 }] : [];
  return {
    id: `${method}|${seed}`,
    status: "ok",
    provenance: PROVENANCE,
    spec: {
      method,
      rank: method === "fft" ? null : 22,
      preset: "quick",
      model: "reference",
      seed,
      lr: 3e-3,
      steps: 240,
      batch: 8,
      seqLen: 64,
    },
    role: "table3",
    trainableParams: 1000,
    losses: [{ step: 5, loss: 4 }, { step: 10, loss: 3 }],
    merges,
    msPerStep: method.includes("mora") ? 110 : 100,
    peakBytes: 2 ** 20,
    validation: { loss: Math.log(perplexity), perplexity, bitsPerByte: Math.log2(perplexity), tokens: 100 },
    spectrum: ["q_proj", "down_proj"].map((module) => ({
      module,
      counts: [count, count],
      meanCount: count,
      leading: [1, 0.5, 0.05],
    })),
  };
}

const RECORDS = [
  ...[0, 1].map((s) => record("fft", s, 9, 60)),
  ...[0, 1].map((s) => record("lora", s, 12 + s * 0.1, 10)),
  ...[0, 1].map((s) => record("mora", s, 11 + s * 0.1, 40)),
  ...[0, 1].map((s) => record("relora", s, 13 + s * 0.1, 20)),
  ...[0, 1].map((s) => record("remora", s, 11.05 + s * 0.1, 50)),
];

Deno.test("Table 3 has every method's mean ± sd beside the paper's C4 perplexities", () => {
  const section = pretrainSection(RECORDS);
  const table = section.tables[0]!;
  assert.deepEqual(table.rows.map((r) => r[0]), [
    "FFT (reference)",
    "LoRA",
    "MoRA",
    "ReLoRA",
    "ReMoRA",
  ]);
  const mora = table.rows[2]!;
  assert.equal(mora[3], "11.050 ± 0.071");
  assert.deepEqual(mora.slice(-2), ["28.54", "25.25"]);
  assert.deepEqual(table.rows[0]!.slice(-2), [null, null], "no paper number for FFT");
  const cost = section.tables[1]!;
  assert.equal(cost.rows[2]![2], "1.10", "MoRA's step time relative to LoRA's");
});

Deno.test("the comparison says where we agree with the paper and where not", () => {
  const intro = pretrainSection(RECORDS).intro;
  assert.match(intro, /MoRA beats LoRA.*our MoRA perplexity is lower than LoRA&#39;s.*agrees with the paper/);
  // ReLoRA is worse than LoRA here: a disagreement, said plainly.
  assert.match(intro, /ReLoRA beats LoRA.*higher than.*disagrees with the paper/);
  // ReMoRA and MoRA differ by less than their sds.
  assert.match(intro, /ReMoRA improves on MoRA.*within the sds of.*inconclusive/);
  assert.match(intro, /Figure 5.*agrees with the paper/);
  assert.equal(compareMeans([1, 1.1], [2, 2.1]), "lower");
  assert.equal(compareMeans([1, 2], [1.5, 1.6]), "within the sds");
});

Deno.test("Figure 4 marks the merges; Figure 5 has the counts and the leading values with the threshold", () => {
  const charts = pretrainSection(RECORDS).charts;
  assert.deepEqual(charts.map((c) => c.name), [
    "pretrain-figure4-loss",
    "pretrain-figure5-counts",
    "pretrain-figure5-leading",
  ]);
  const layers = (charts[0]!.spec as { layer: { encoding: { x?: { datum?: number } } }[] }).layer;
  assert.deepEqual(layers.flatMap((l) => l.encoding.x?.datum ?? []), [48, 96]);
  const bars = (charts[1]!.spec as { data: { values: { method: string; count: number }[] } }).data.values;
  assert.equal(bars.find((b) => b.method === "MoRA")!.count, 40);
  assert.match(JSON.stringify(charts[2]!.spec), /threshold 0.1/);
});

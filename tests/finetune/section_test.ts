import assert from "node:assert/strict";
import type { FinetuneRunRecord } from "../../lib/records.ts";
import type { Environment } from "../../lib/harness/env.ts";
import { ablationSection } from "../../lib/report/ablation_section.ts";
import { atFloor, noGainOverBase } from "../../lib/report/finetune_common.ts";
import { finetuneSection, seedCounts } from "../../lib/report/finetune_section.ts";

const ENV = { adapter: { description: "test adapter" } } as Environment;

function record(
  task: string,
  method: string,
  rank: number | null,
  seed: number,
  scores: Record<string, number>,
  variant?: string,
): FinetuneRunRecord {
  return {
    id: `${task}|${method}|${rank}|${variant}|${seed}`,
    spec: {
      task,
      method,
      rank,
      ...variant ? { variant } : {},
      preset: "quick",
      seed,
      lr: 0.01,
      steps: 24,
      batch: 4,
      base: "b",
      data: "analog",
    },
    role: "reported",
    status: "ok",
    trainableParams: 1,
    steps: 24,
    losses: [{ step: 1, loss: 2 }, { step: 24, loss: 1 }],
    scores,
    msPerStep: 1,
    provenance: {
      adapter: "a",
      softwareAdapter: true,
      commit: "c",
      deno: "d",
      date: "2026-12-02",
      preset: "quick",
    },
  };
}

Deno.test("Table 2: paper layout, mean ± sd beside the paper's numbers, a disagreement said plainly", () => {
  const records = [0, 1].flatMap((seed) => [
    record("math", "fft", null, seed, { GSM8K: 0.5 + seed / 100, MATH: 0.2 }),
    // LoRA: the large rank is no better than the small one, against the paper's claim.
    record("math", "lora", 1, seed, { GSM8K: 0.3 + seed / 100, MATH: 0.1 }),
    record("math", "lora", 8, seed, { GSM8K: 0.3 + seed / 100, MATH: 0.1 }),
    record("finance", "lora", 1, seed, { Finance: 0.4 + seed / 100 }),
    record("finance", "mora", 1, seed, { Finance: 0.6 + seed / 100 }, "rotation"),
  ]);
  const section = finetuneSection(records, ENV);
  const [table] = section.tables;
  const gsm = table!.columns.indexOf("GSM8K paper");
  assert.equal(
    table!.columns[gsm - 1],
    "GSM8K ours (generated word problems (GSM8K-like and MATH-like tiers))",
  );
  assert.deepEqual(table!.rows.map((r) => r[0]), [
    "FFT",
    "LoRA r=1 (paper r=8)",
    "MoRA r=1 (paper r=8) [rotation]",
    "LoRA r=8 (paper r=256)",
  ]);
  assert.equal(table!.rows[0]![gsm - 1], "50.5 ± 0.7");
  assert.equal(table!.rows[0]![gsm], 66.6);
  assert.equal(table!.rows[3]![gsm], 67.9);
  assert.match(section.intro, /Math \(GSM8K\):.*for 0 of 1 methods.*This disagrees with the paper's claim/);
  assert.match(
    section.intro,
    /Finance, r=1\):.*MoRA 60\.5% vs LoRA 40\.5%\. MoRA is ahead beyond the sds and by more than 5 points; this agrees/,
  );
  // One seed, two of 48 cloze items apart: noise, neither agreement nor disagreement.
  const close = finetuneSection([
    record("finance", "lora", 8, 0, { Finance: 0.5 }),
    record("finance", "mora", 8, 0, { Finance: 0.5 + 2 / 48 }, "sharing"),
  ], ENV);
  assert.match(close.intro, /Finance, r=8\):.*within the sds or 5 points .* does not show the paper's claim/);
  assert.deepEqual(section.charts.map((c) => c.name), [
    "finetune-gsm8k",
    "finetune-math",
    "finetune-finance",
  ]);
});

Deno.test("Table 4: operators in the paper's order beside its numbers; our order compared with its ranking", () => {
  const acc: Record<string, number> = { truncation: 0.1, sharing: 0.3, decouple: 0.2, rotation: 0.4 };
  const records = Object.entries(acc).flatMap(([v, a]) =>
    [1, 8].map((rank) => record("math", "mora", rank, 0, { GSM8K: a, MATH: 0 }, v))
  );
  const section = ablationSection(records, ENV);
  const [table] = section.tables;
  assert.deepEqual(table!.rows.map((r) => r[0]), [
    "truncation (Eq. 4)",
    "sharing (Eq. 6)",
    "decouple (Eq. 8)",
    "rotation (Eq. 9)",
  ]);
  assert.deepEqual(table!.rows[3]!.slice(1, 3), ["40.0", 64.2]);
  assert.equal(table!.rows[3]![5], 67.9);
  assert.match(
    section.intro,
    /rotation 40\.0% > sharing 30\.0% > decouple 20\.0% > truncation 10\.0%: <b>a different order/,
  );
});

Deno.test("an analog at its floor (every run 0%, or one problem apart) is said to test nothing, not to disagree", () => {
  // One of 32 problems solved by one run (3.1%) is noise, not a ranking.
  assert.ok(atFloor([0, 0, 1 / 32, 0]));
  assert.ok(!atFloor([0, 0.1]));
  const zero = { GSM8K: 0, MATH: 0 };
  const ablation = ["truncation", "rotation"].map((v) => record("math", "mora", 1, 0, zero, v));
  assert.match(
    ablationSection(ablation, ENV).intro,
    /within 5 points of each other .*: at this scale this score does not separate/,
  );
  const table2 = [
    record("math", "lora", 1, 0, { GSM8K: 1 / 32, MATH: 0 }),
    record("math", "lora", 8, 0, zero),
  ];
  const intro = finetuneSection(table2, ENV).intro;
  assert.match(intro, /Math \(GSM8K\):.*does not separate the methods/);
  assert.doesNotMatch(intro, /disagrees/);
});

Deno.test("the untrained base is the first row; a column where no run rises above it is said to test nothing", () => {
  const base = (task: string, scores: Record<string, number>) => ({
    ...record(task, "fft", null, 0, scores),
    id: `${task}|untrained-base`,
    role: "base" as const,
    steps: 0,
    losses: [],
  });
  const records = [
    base("instruction", { MMLU0: 0.25, MMLU5: 0.25 }),
    base("math", { GSM8K: 0.1, MATH: 0 }),
    // Instruction: FFT no better than the base, so "LoRA matches FFT" is vacuous; LoRA+ below both.
    record("instruction", "fft", null, 0, { MMLU0: 0.25, MMLU5: 0.27 }),
    record("instruction", "lora+", 8, 0, { MMLU0: 0.1, MMLU5: 0.1 }),
    // Math: FFT well above the base, so the rank claim is tested.
    record("math", "fft", null, 0, { GSM8K: 0.5, MATH: 0.3 }),
    record("math", "lora", 1, 0, { GSM8K: 0.2, MATH: 0.1 }),
    record("math", "lora", 8, 0, { GSM8K: 0.4, MATH: 0.2 }),
  ];
  const section = finetuneSection(records, ENV);
  const [table] = section.tables;
  assert.equal(table!.rows[0]![0], "Base, not fine-tuned (the floor)");
  assert.equal(table!.rows[0]![table!.columns.indexOf("GSM8K paper") - 1], "10.0");
  assert.equal(table!.rows[0]![table!.columns.indexOf("GSM8K paper")], null);
  assert.match(
    section.intro,
    /Instruction \(MMLU5\):.*The untrained base scores 25\.0% and FFT 27\.0%: no run rises/,
  );
  assert.doesNotMatch(section.intro, /Instruction \(MMLU5\)[^<]*<\/b>[^<]*This agrees/);
  assert.match(section.intro, /Math \(GSM8K\):.*This agrees with the paper's claim/);
  const ablation = ablationSection([
    base("math", { GSM8K: 0.1, MATH: 0 }),
    record("math", "mora", 1, 0, { GSM8K: 0.12, MATH: 0 }, "rotation"),
    record("math", "mora", 1, 0, { GSM8K: 0.08, MATH: 0 }, "sharing"),
  ], ENV);
  assert.equal(ablation.tables[0]!.rows[0]![0], "Base, not fine-tuned (the floor)");
  assert.match(ablation.intro, /no run rises more than 5 points/);
  assert.equal(noGainOverBase([0.1], [{ label: "FFT", scores: [0.2] }]), undefined);
  assert.equal(noGainOverBase([], [{ label: "FFT", scores: [0.1] }]), undefined);
});

Deno.test("seeds per column: one count when the columns agree, each column's count where a family has more", () => {
  assert.equal(seedCounts([3, 3, 0, 3]), 3);
  assert.equal(seedCounts([0, 0]), 0);
  assert.equal(seedCounts([1, 1, 3, 0]), "1/1/3/–");
  // Math with one seed, Finance with three: the row says so, and the claims say which columns have no sd.
  const records = [
    record("math", "lora", 1, 0, { GSM8K: 0.1, MATH: 0 }),
    ...[0, 1, 2].map((seed) => record("finance", "lora", 1, seed, { Finance: 0.4 + seed / 100 })),
    ...[0, 1, 2].map((seed) => record("finance", "mora", 1, seed, { Finance: 0.6 }, "rotation")),
  ];
  const section = finetuneSection(records, ENV);
  const [table] = section.tables;
  const seeds = table!.columns.indexOf("seeds");
  const lora = table!.rows.find((r) => r[0] === "LoRA r=1")!;
  // Columns MMLU0, MMLU5, GSM8K, MATH, BioMed, Finance.
  assert.equal(lora[seeds], "–/–/1/1/–/3");
  assert.match(section.intro, /With one seed there is no sd: a gap is a gap \(GSM8K, MATH\)/);
  assert.match(section.intro, /Finance, r=1\):.*MoRA 60\.0% vs LoRA 41\.0%/);
});

Deno.test("solution perplexity: a table in both sections and the claims read on it, beside the floor of exact match", () => {
  const solved = (ppl: number) => ({ GSM8K: ppl, MATH: ppl + 1 });
  const at = (r: FinetuneRunRecord, ppl: number) => ({ ...r, solutionPerplexity: solved(ppl) });
  const base = { ...at(record("math", "fft", null, 0, { GSM8K: 0, MATH: 0 }), 40), role: "base" as const };
  const table2 = finetuneSection([
    base,
    at(record("math", "fft", null, 0, { GSM8K: 0, MATH: 0 }), 5),
    at(record("math", "lora", 1, 0, { GSM8K: 0, MATH: 0 }), 20),
    at(record("math", "lora", 8, 0, { GSM8K: 0, MATH: 0 }), 15),
  ], ENV);
  const table = table2.tables.find((t) => t.caption?.startsWith("Math analog: perplexity"))!;
  assert.deepEqual(table.columns, [
    "Method",
    "GSM8K-like tier: solution perplexity",
    "MATH-like tier: solution perplexity",
  ]);
  assert.deepEqual(table.rows.map((r) => r.slice(0, 2)), [
    ["Base, not fine-tuned (the floor)", "40.00"],
    ["FFT", "5.00"],
    ["LoRA r=1 (paper r=8)", "20.00"],
    ["LoRA r=8 (paper r=256)", "15.00"],
  ]);
  assert.match(table2.intro, /Math \(GSM8K\):.*taught nothing this column measures/);
  assert.match(
    table2.intro,
    /Math \(GSM8K\), finer measure:<\/b> On the held-out solution perplexity.*partly agrees/,
  );
  const ppl: Record<string, number> = { truncation: 9, sharing: 7, decouple: 5.5, rotation: 5 };
  const ablation = ablationSection([
    base,
    ...Object.entries(ppl).flatMap(([v, p]) =>
      [1, 8].map((rank) => at(record("math", "mora", rank, 0, { GSM8K: 0, MATH: 0 }, v), p))
    ),
  ], ENV);
  const t4 = ablation.tables.find((t) => t.caption?.startsWith("Table 4 analog, finer measure"))!;
  assert.deepEqual(t4.columns.slice(1), [
    "r=1 GSM8K-like tier",
    "r=1 MATH-like tier",
    "r=8 GSM8K-like tier",
    "r=8 MATH-like tier",
  ]);
  assert.deepEqual(t4.rows[0], ["Base, not fine-tuned (the floor)", "40.00", "41.00", "40.00", "41.00"]);
  assert.deepEqual(t4.rows[1], ["truncation (Eq. 4)", "9.00", "10.00", "9.00", "10.00"]);
  assert.match(
    ablation.intro,
    /rotation 5\.00, decouple 5\.50, sharing 7\.00, truncation 9\.00.*Every pair holds/,
  );
  // A chart of it in each section, beside the accuracy charts.
  assert.deepEqual(table2.charts.map((c) => c.name), [
    "finetune-gsm8k",
    "finetune-math",
    "finetune-gsm8k-solution-perplexity",
  ]);
  const bars =
    (table2.charts[2]!.spec as { data: { values: { method: string; value: number }[] } }).data.values;
  assert.deepEqual(bars.map((b) => [b.method, b.value]), [["FFT", 5], ["LoRA", 20], ["LoRA", 15]]);
  assert.deepEqual(ablation.charts.map((c) => c.name), [
    "ablation-operators",
    "ablation-operators-solution-perplexity",
  ]);
});

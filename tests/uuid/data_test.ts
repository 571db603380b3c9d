import assert from "node:assert/strict";
import { byteTokenizer, gpt2Tokenizer } from "../../lib/data/tokenizer.ts";
import { SeededRandom } from "../../lib/random.ts";
import { makeUuidPairs, tokenizePairs, uuidBatches, uuidSeqLen, uuidV4 } from "../../lib/uuid/data.ts";
import { charAccuracy } from "../../lib/uuid/score.ts";
import type { UuidRunRecord } from "../../lib/records.ts";
import { uuidSection } from "../../lib/report/uuid_section.ts";
import { FORMAT_ONLY_CHAR_ACCURACY, formatOnlyLoss } from "../../lib/uuid/baseline.ts";
import { uuidPretrainingDocuments } from "../../lib/uuid/data.ts";
import type { Environment } from "../../lib/harness/env.ts";

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

Deno.test("uuidV4 makes RFC 4122 version-4 UUIDs, deterministic in the seed", () => {
  const rng = new SeededRandom(1, "t");
  for (let i = 0; i < 200; i++) assert.match(uuidV4(rng), UUID_V4);
  assert.deepEqual(makeUuidPairs(5, 3), makeUuidPairs(5, 3));
  assert.notDeepEqual(makeUuidPairs(5, 3), makeUuidPairs(5, 4));
  assert.equal(new Set(makeUuidPairs(300, 0).map((p) => p.key)).size, 300);
  assert.throws(() => makeUuidPairs(0, 0), /positive integer/);
});

Deno.test("examples are BOS + key:value, prompts BOS + key:", () => {
  const pairs = makeUuidPairs(3, 0);
  const [e] = tokenizePairs(pairs, byteTokenizer);
  assert.equal(e!.ids.length, 1 + 36 + 1 + 36);
  assert.equal(e!.ids[0], byteTokenizer.bos);
  assert.equal(byteTokenizer.decode(e!.ids.slice(1)), `${pairs[0]!.key}:${pairs[0]!.value}`);
  assert.deepEqual(e!.promptIds, e!.ids.slice(0, 38));
  // GPT-2 splits UUIDs into a varying number of tokens: sequences are padded to the longest.
  const gpt2 = tokenizePairs(makeUuidPairs(20, 0), gpt2Tokenizer);
  assert.equal(uuidSeqLen(gpt2), Math.max(...gpt2.map((x) => x.ids.length)));
});

Deno.test("batches cover every pair once per epoch and pad with ignored labels", () => {
  const examples = tokenizePairs(makeUuidPairs(6, 0), byteTokenizer);
  const seqLen = 80;
  const batches = uuidBatches(examples, { batchSize: 4, seqLen, seed: 0, pad: 3 });
  const seen: string[] = [];
  for (let b = 0; b < 3; b++) {
    const { inputIds, labels } = batches.next().value;
    for (let row = 0; row < 4; row++) {
      seen.push(inputIds.slice(row * seqLen, row * seqLen + 74).join(","));
      assert.equal(labels[row * seqLen + 74], -100);
      assert.equal(inputIds[row * seqLen + 74], 3);
      assert.equal(labels[row * seqLen + 5], inputIds[row * seqLen + 5]);
    }
  }
  // 12 rows = two epochs of 6 pairs: each pair exactly twice.
  const counts = new Map<string, number>();
  for (const s of seen) counts.set(s, (counts.get(s) ?? 0) + 1);
  assert.deepEqual([...counts.values()], [2, 2, 2, 2, 2, 2]);
});

Deno.test("character accuracy counts same-position characters of the expected value", () => {
  assert.equal(charAccuracy("abcd", "abcd"), 1);
  assert.equal(charAccuracy("abxd", "abcd"), 0.75);
  assert.equal(charAccuracy("ab", "abcd"), 0.5);
  assert.equal(charAccuracy("", "abcd"), 0);
});

const ENV = { adapter: { description: "test adapter", isFallbackAdapter: true } } as Environment;
const PROVENANCE = {
  adapter: "a",
  softwareAdapter: true,
  commit: "c",
  deno: "2.9.6",
  date: "2026-01-01T00:00:00Z",
  preset: "quick",
};

function record(method: string, rank: number | null, seed: number, loss: number, accuracy: number) {
  return {
    id: `${method}${rank}${seed}`,
    spec: { preset: "quick", method, rank, seed, lr: 0.01, base: "b" },
    role: "table1",
    status: "ok",
    provenance: PROVENANCE,
    trainableParams: 1,
    losses: [{ step: 1, loss }, { step: 10, loss: loss / 2 }],
    evals: [3, 5, 7, 9, 10].map((step) => ({
      step,
      charAccuracy: accuracy,
      exactMatch: 0,
      teacherForcedAccuracy: accuracy,
    })),
    msPerStep: 1,
  } as UuidRunRecord;
}

Deno.test("curves over seeds draw their mean with a ± 1 sd band and the format-only baseline", () => {
  const section = uuidSection([record("lora", 8, 0, 2, 0.2), record("lora", 8, 1, 4, 0.4)], ENV);
  const chart = section.charts.find((c) => c.name === "uuid-figure2-loss")!;
  const spec = chart.spec as unknown as { data: { values: Record<string, number>[] }; layer: unknown[] };
  const first = spec.data.values.find((v) => v.step === 1)!;
  assert.equal(first.loss, 3);
  assert.ok(
    Math.abs(first.lower! - (3 - Math.SQRT2)) < 1e-12 && Math.abs(first.upper! - (3 + Math.SQRT2)) < 1e-12,
  );
  assert.equal(first.seeds, 2);
  assert.ok(JSON.stringify(spec.layer).includes("format only"));
});

Deno.test("Table 1 rows show mean ± sd over seeds and the report says what ± is", () => {
  const records = [
    record("fft", null, 0, 2, 1),
    record("fft", null, 1, 2, 1),
    record("lora", 8, 0, 2, 0.2),
    record("lora", 8, 1, 2, 0.4),
    record("mora", 8, 0, 2, 0.9),
    record("mora", 8, 1, 2, 0.9),
  ];
  const table = uuidSection(records, ENV).tables[0]!;
  assert.match(table.caption!, /sample standard deviation over seeds/);
  const lora = table.rows.find((r) => r[0] === "LoRA r=8")!;
  assert.equal(lora[3], "30.0 ± 14.1");
  assert.match(uuidSection(records, ENV).intro, /MoRA memorizes more than LoRA[^<]*agrees/);
});

Deno.test("the format-only baseline is ≈19.8% of characters and the entropy of the free digits", () => {
  assert.ok(Math.abs(FORMAT_ONLY_CHAR_ACCURACY - 7.125 / 36) < 1e-12);
  assert.ok(Math.abs(formatOnlyLoss(byteTokenizer)! - (60 * Math.log(16) + 2 * Math.log(4)) / 73) < 1e-12);
  assert.equal(formatOnlyLoss(gpt2Tokenizer), undefined);
});

Deno.test("pretraining UUID documents are v4 pairs from their own stream, never the task's", () => {
  const docs = uuidPretrainingDocuments(50, 20, 0);
  assert.equal(docs.length, 3);
  const lines = docs.flatMap((d) => d.text.trim().split("\n"));
  assert.equal(lines.length, 50);
  const task = new Set(makeUuidPairs(1000, 0).map((p) => p.key));
  for (const line of lines) {
    const [key, value] = line.split(":");
    assert.match(key!, UUID_V4);
    assert.match(value!, UUID_V4);
    assert.ok(!task.has(key!));
  }
});

Deno.test("a fixed-rate grid draws one curve per rate, never averaging rates as if they were seeds", () => {
  const at = (lr: number, loss: number) => ({
    ...record("lora", 8, 0, loss, 0.2),
    spec: { ...record("lora", 8, 0, loss, 0.2).spec, lr },
  });
  const section = uuidSection([at(0.01, 2), at(0.03, 4)], ENV);
  const spec = section.charts.find((c) => c.name === "uuid-figure2-loss")!.spec as unknown as {
    data: { values: { run: string; step: number; loss: number }[] };
  };
  const first = spec.data.values.filter((v) => v.step === 1).map((v) => [v.run, v.loss]);
  assert.deepEqual(first, [["LoRA r=8 lr=0.01", 2], ["LoRA r=8 lr=0.03", 4]]);
  assert.deepEqual(section.tables[0]!.rows.map((r) => r[0]), ["LoRA r=8 lr=0.01", "LoRA r=8 lr=0.03"]);
});

Deno.test("the report says whether LoRA's accuracy rises with rank beyond the sds, and by how much", () => {
  const sweep = [
    record("lora", 1, 0, 2, 0.2),
    record("lora", 1, 1, 2, 0.22),
    record("lora", 4, 0, 2, 0.21),
    record("lora", 4, 1, 2, 0.23),
    record("lora", 8, 0, 2, 0.4),
    record("lora", 8, 1, 2, 0.44),
  ];
  const intro = uuidSection(sweep, ENV).intro;
  assert.match(
    intro,
    /LoRA memorizes more as its rank grows[^<]*r=1 21\.0 ± 1\.4%, r=4 22\.0 ± 1\.4%, r=8 42\.0/,
  );
  assert.match(intro, /partly: 1 of 2 steps up in rank gain more than the two sds/);
});

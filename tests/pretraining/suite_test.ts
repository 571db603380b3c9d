import assert from "node:assert/strict";
import {
  journalPath,
  makePretrainSuite,
  rebuildPretrainRecords,
  searchPath,
} from "../../benchmarks/pretrain.ts";
import { recordEnvironment } from "../../lib/harness/env.ts";
import type { BenchContext } from "../../lib/harness/suite.ts";
import { pretrainSection } from "../../lib/report/pretrain_section.ts";
import { gpuTest, testGpu } from "../_gpu.ts";
import { TINY_PRESET } from "./_tiny.ts";

async function context(log: string[]): Promise<BenchContext> {
  const gpu = await testGpu();
  const environment = await recordEnvironment(gpu.adapter);
  return { gpu, environment, timing: {}, quick: true, progress: (line) => log.push(line) };
}

Deno.test("the suite searches, reports, saves its search and resumes from its journal", gpuTest, async () => {
  const outDir = await Deno.makeTempDir();
  const options = { preset: TINY_PRESET, methods: ["lora", "relora"], outDir, warn: () => {} };
  const log: string[] = [];
  const suite = makePretrainSuite(options);
  await suite.validate!();
  const records = await suite.run(await context(log));
  // Two rates for each of two methods, then one seed each at the chosen rate.
  assert.equal(records.filter((r) => r.role === "lr-search").length, 4);
  const table = records.filter((r) => r.role === "table3");
  assert.deepEqual(table.map((r) => r.spec.method), ["lora", "relora"]);
  assert.ok(table.every((r) => r.validation && r.spectrum));
  const saved = JSON.parse(await Deno.readTextFile(searchPath(outDir, "tiny")));
  assert.equal(saved.records.length, 4);
  // A second bench re-runs nothing: every run is in the journal or the saved search.
  const again: string[] = [];
  const resumed = await makePretrainSuite(options).run(await context(again));
  assert.deepEqual(resumed.map((r) => r.id), records.map((r) => r.id));
  assert.ok(again.every((l) => !/^\[\d+\/\d+\] (?!.*recorded earlier)/.test(l)), again.join("\n"));
  // The records come back from the journal and the search alone.
  await Deno.stat(journalPath(outDir, "tiny"));
  const rebuilt = await rebuildPretrainRecords(outDir, []);
  assert.deepEqual(new Set(rebuilt.map((r) => (r as { id: string }).id)), new Set(records.map((r) => r.id)));
  const section = pretrainSection(records);
  assert.equal(section.tables[0]!.rows.length, 2);
  // A preset of another size reuses neither the saved search nor the journal.
  const resized = { ...TINY_PRESET, steps: TINY_PRESET.steps + 1 };
  const longer = await makePretrainSuite({ ...options, preset: resized }).run(await context([]));
  assert.ok(longer.every((r) => r.spec.steps === resized.steps && !records.some((o) => o.id === r.id)));
  await Deno.remove(outDir, { recursive: true });
});

Deno.test("a corrupt saved search stops the suite at validation, naming the file", async () => {
  const outDir = await Deno.makeTempDir();
  await Deno.writeTextFile(searchPath(outDir, "tiny"), "{ not json");
  const suite = makePretrainSuite({ preset: TINY_PRESET, outDir, warn: () => {} });
  await assert.rejects(
    () => suite.validate!(),
    /Cannot read the learning-rate search ".*lr-search-pretrain-tiny.json"/,
  );
  // --lr-search ignores it.
  await makePretrainSuite({ preset: TINY_PRESET, outDir, lrSearch: true, warn: () => {} }).validate!();
  const warnings: string[] = [];
  const never = { ...TINY_PRESET, methodOptions: { relora: { mergeEvery: 9 } } };
  await makePretrainSuite({ preset: never, outDir, lrSearch: true, warn: (w) => warnings.push(w) })
    .validate!();
  assert.equal(warnings.length, 1);
  assert.match(
    warnings[0]!,
    /^Warning: relora r=2 \(mergeEvery=9\) merges every 9 updates but the run has 9/,
  );
  await Deno.remove(outDir, { recursive: true });
});

import assert from "node:assert/strict";
import { lrSearchPath, makeUuidSuite, plannedGroups, validatePlan } from "../../benchmarks/uuid.ts";
import { methodLabel } from "../../lib/experiment/setup.ts";
import type { BenchContext } from "../../lib/harness/suite.ts";
import { readResults } from "../../lib/harness/results.ts";
import { recordEnvironment } from "../../lib/harness/env.ts";
import type { UuidRunRecord } from "../../lib/records.ts";
import { uuidPreset } from "../../lib/uuid/presets.ts";
import { gpuTest, testGpu } from "../_gpu.ts";
import { TINY_CONFIG, TINY_PRESET, tinyBench } from "./_tiny.ts";

// The tiny preset's grid: one rate for fft, two for each of the four adapter groups.
const SEARCH_RUNS = 1 + 4 * 2;

async function context(log: string[]): Promise<BenchContext> {
  const gpu = await testGpu();
  const environment = await recordEnvironment(gpu.adapter);
  return { gpu, environment, timing: {}, quick: true, progress: (line) => log.push(line) };
}

Deno.test("the planned groups are Table 1's methods at both ranks plus the LoRA sweep, once each", () => {
  const preset = uuidPreset("quick");
  const labels = plannedGroups(preset, { preset: "quick", outDir: "x" }).map(methodLabel);
  assert.deepEqual(labels, [
    "fft",
    `lora r=${preset.ranks[0]}`,
    `lora r=${preset.ranks[1]}`,
    `mora r=${preset.ranks[0]} (rotation)`,
    `mora r=${preset.ranks[1]} (sharing)`,
    ...preset.sweepRanks.filter((r) => !preset.ranks.includes(r)).map((r) => `lora r=${r}`),
  ]);
});

Deno.test("bad presets, methods and ranks get clear errors before any work", async () => {
  assert.throws(() => uuidPreset("huge"), /Unknown UUID preset "huge": expected one of quick, smoke, paper/);
  const preset = uuidPreset("quick");
  const plan = (o: object) => plannedGroups(preset, { preset: "quick", outDir: "x", ...o });
  assert.throws(
    () => validatePlan(preset, plan({ methods: ["vera"] }), TINY_CONFIG),
    /Cannot run method "vera": not registered; expected one of fft, lora, .*mora, remora/,
  );
  assert.throws(() => validatePlan(preset, plan({ ranks: [0] }), TINY_CONFIG), /rank 0/);
  assert.throws(
    () => validatePlan(preset, plan({ methods: ["mora"], ranks: [64] }), TINY_CONFIG),
    /mora r=64 \(rotation\): its inner size 64 exceeds 32/,
  );
  // The reported seeds cannot include the search seed, and the paper preset needs a base; both before work.
  const ctx = {} as BenchContext;
  await assert.rejects(
    () => makeUuidSuite({ preset: "paper", outDir: "x" }).run(ctx),
    /needs a Hugging Face LLaMA directory: pass --base DIR/,
  );
  await assert.rejects(
    () =>
      makeUuidSuite({ preset: TINY_PRESET, outDir: "x", base: "x", seeds: [TINY_PRESET.searchSeed] }).run(
        ctx,
      ),
    /Cannot report seed 100: it is the learning-rate search's seed/,
  );
});

Deno.test({
  name: "the UUID suite journals every finished run and a second run resumes, skipping a corrupt line",
  ...gpuTest,
  async fn() {
    const outDir = await Deno.makeTempDir();
    const options = { ...await tinyBench(outDir), methods: ["fft", "lora", "mora"] };
    const log: string[] = [];
    const first = await makeUuidSuite(options).run(await context(log));
    // fft, lora r1, lora r2, mora r1, mora r2 (the sweep 1, 2 is already covered): searched, then reported.
    const search = first.filter((r) => r.role === "lr-search"),
      table = first.filter((r) => r.role !== "lr-search");
    assert.equal(search.length, SEARCH_RUNS);
    assert.equal(table.length, 5);
    assert.ok(search.every((r) => r.spec.seed === TINY_PRESET.searchSeed));
    assert.ok(table.every((r) => r.spec.seed === 0 && r.provenance.preset === "quick"));
    for (const r of table) {
      assert.equal(
        r.evals.length,
        new Set(TINY_PRESET.evalFractions.map((f) => Math.round(f * TINY_PRESET.steps))).size,
      );
      assert.ok(r.evals.every((e) => e.charAccuracy >= 0 && e.charAccuracy <= 1));
      assert.ok(r.losses.length > 0 && r.losses.every((l) => Number.isFinite(l.loss)));
    }
    const journal = `${outDir}/uuid-quick.jsonl`;
    await Deno.writeTextFile(journal, '{"id": "truncated', { append: true });
    const warnings: string[] = [];
    const kept = await readResults<UuidRunRecord>(journal, { warn: (w) => warnings.push(w) });
    assert.equal(kept.length, SEARCH_RUNS + 5);
    assert.match(warnings[0]!, new RegExp(`Skipping line ${SEARCH_RUNS + 6} of`));
    // The search is saved: a second bench reuses it and re-runs nothing.
    const saved = JSON.parse(await Deno.readTextFile(lrSearchPath(outDir, "quick")));
    assert.equal(saved.records.length, SEARCH_RUNS);
    const again: string[] = [];
    const second = await makeUuidSuite(options).run(await context(again));
    assert.deepEqual(second.map((r) => r.id), first.map((r) => r.id));
    assert.deepEqual(second.map((r) => r.provenance.date), first.map((r) => r.provenance.date));
    assert.equal(again.filter((l) => l.includes("recorded earlier")).length, 5);
    const section = makeUuidSuite(options).section(second, (await context([])).environment);
    assert.equal(section.tables[1]!.rows.length, 5); // the paper's Table 1 rows
    assert.match(section.tables[2]!.caption!, /Learning-rate search on seed 100/);
    await Deno.remove(outDir, { recursive: true });
  },
});

Deno.test({
  name: "kill -9 in the middle of the UUID suite loses no finished run",
  ...gpuTest,
  async fn() {
    const outDir = await Deno.makeTempDir();
    const journal = `${outDir}/uuid-quick.jsonl`;
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        "--allow-write",
        "--allow-env",
        "--allow-run=git",
        "tests/uuid/_kill_child.ts",
        outDir,
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
    // Wait for two finished runs, then kill the process while it trains the third.
    let lines = 0;
    for (let i = 0; i < 600 && lines < 2; i++) {
      await new Promise((r) => setTimeout(r, 100));
      lines = (await readResults(journal, { warn: () => {} })).length;
    }
    child.kill("SIGKILL");
    const status = await child.status;
    assert.notEqual(status.code, 0);
    const survived = await readResults<UuidRunRecord>(journal, { warn: () => {} });
    assert.ok(survived.length >= 2, `only ${survived.length} runs survived`);
    const log: string[] = [];
    const resumed = await makeUuidSuite({ ...await tinyBench(outDir), methods: ["fft", "lora", "mora"] })
      .run(await context(log));
    assert.equal(resumed.length, SEARCH_RUNS + 5);
    assert.deepEqual(resumed.slice(0, survived.length).map((r) => r.id), survived.map((r) => r.id));
    assert.equal(log.filter((l) => l.includes("recorded earlier")).length, survived.length);
    await Deno.remove(outDir, { recursive: true });
  },
});

Deno.test({
  name: "a rate that diverges is recorded as such, never chosen, and the matrix goes on",
  ...gpuTest,
  async fn() {
    const outDir = await Deno.makeTempDir();
    const preset = { ...TINY_PRESET, lrGrid: { default: [1e-1, 1e6] } };
    const log: string[] = [];
    const records = await makeUuidSuite({ ...await tinyBench(outDir), preset, methods: ["lora"], ranks: [1] })
      .run(await context(log));
    const bad = records.find((r) => r.spec.lr === 1e6 && r.role === "lr-search")!;
    assert.notEqual(bad.status, "ok");
    assert.ok(records.some((r) => r.role !== "lr-search" && r.spec.lr === 1e-1));
    assert.ok(!records.some((r) => r.role !== "lr-search" && r.spec.lr === 1e6));
    await Deno.remove(outDir, { recursive: true });
  },
});

Deno.test({
  name: "ReLoRA, ReMoRA, LoRA+ and DoRA run in the UUID suite with their own defaults",
  ...gpuTest,
  async fn() {
    const outDir = await Deno.makeTempDir();
    const methods = ["relora", "remora", "lora+", "dora"];
    const records = await makeUuidSuite({ ...await tinyBench(outDir), methods, ranks: [1], lrs: [1e-1] })
      .run(await context([]));
    assert.deepEqual(records.map((r) => r.spec.method), methods);
    assert.ok(
      records.every((r) => r.status === "ok" && r.losses.length === TINY_PRESET.steps),
      "all trained",
    );
    await Deno.remove(outDir, { recursive: true });
  },
});

Deno.test({
  name: "a saved search that lacks a rate of the grid is completed with that rate alone",
  ...gpuTest,
  async fn() {
    const outDir = await Deno.makeTempDir();
    const options = { ...await tinyBench(outDir), methods: ["lora"], ranks: [1] };
    const narrow = { ...TINY_PRESET, lrGrid: { default: [3e-2] } };
    await makeUuidSuite({ ...options, preset: narrow }).run(await context([]));
    const log: string[] = [];
    const wide = { ...TINY_PRESET, lrGrid: { default: [3e-2, 1e-1] } };
    const records = await makeUuidSuite({ ...options, preset: wide }).run(await context(log));
    const searched = log.filter((l) => /\] lr search: /.test(l) && !l.includes("recorded earlier"));
    // Table 1's LoRA r=1 and the sweep's r=2: each gets its one new rate.
    assert.deepEqual(searched.map((l) => l.replace(/^.*lr search: /, "")), [
      "lora r=1 seed 100 lr 0.1",
      "lora r=2 seed 100 lr 0.1",
    ]);
    const rates = records.filter((r) => r.role === "lr-search").map((r) => `${r.spec.rank}:${r.spec.lr}`);
    assert.deepEqual(rates.sort(), ["1:0.03", "1:0.1", "2:0.03", "2:0.1"]);
    const saved = JSON.parse(await Deno.readTextFile(lrSearchPath(outDir, "quick")));
    assert.equal(saved.records.length, 4);
    // A preset of another size reuses none of it: every rate is searched again at the new size.
    const longer: string[] = [];
    const resized = { ...wide, steps: wide.steps + 1 };
    const again = await makeUuidSuite({ ...options, preset: resized }).run(await context(longer));
    const fresh = longer.filter((l) => /\] lr search: /.test(l) && !l.includes("recorded earlier"));
    assert.equal(fresh.length, 4, longer.join("\n"));
    assert.ok(again.every((r) => r.spec.steps === resized.steps));
    await Deno.remove(outDir, { recursive: true });
  },
});

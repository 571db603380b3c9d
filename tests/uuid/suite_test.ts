import assert from "node:assert/strict";
import { checkRanksFit, makeUuidSuite, plannedRuns } from "../../benchmarks/uuid.ts";
import type { BenchContext } from "../../lib/harness/suite.ts";
import { readResults } from "../../lib/harness/results.ts";
import { recordEnvironment } from "../../lib/harness/env.ts";
import type { UuidRunRecord } from "../../lib/uuid/experiment.ts";
import { uuidPreset } from "../../lib/uuid/presets.ts";
import { gpuTest, testGpu } from "../_gpu.ts";
import { TINY_CONFIG, TINY_PRESET, tinyBench } from "./_tiny.ts";

async function context(log: string[]): Promise<BenchContext> {
  const gpu = await testGpu();
  const environment = await recordEnvironment(gpu.adapter);
  return { gpu, environment, timing: {}, quick: true, progress: (line) => log.push(line) };
}

Deno.test("the planned runs are Table 1's methods at both ranks plus the LoRA sweep, once each", () => {
  const specs = plannedRuns(uuidPreset("quick"), { preset: "quick", outDir: "x", seeds: [0, 1] }, "base");
  const labels = specs.filter((s) => s.seed === 0).map((s) => `${s.method}:${s.rank}:${s.variant ?? ""}`);
  assert.deepEqual(labels, [
    "fft:null:",
    "lora:1:",
    "lora:8:",
    "mora:1:rotation",
    "mora:8:sharing",
    "lora:2:",
    "lora:4:",
    "lora:16:",
    "lora:32:",
  ]);
  assert.equal(specs.length, 2 * labels.length);
});

Deno.test("bad presets, methods and ranks get clear errors", async () => {
  assert.throws(() => uuidPreset("huge"), /Unknown UUID preset "huge": expected one of quick, paper/);
  const preset = uuidPreset("quick");
  assert.throws(
    () => plannedRuns(preset, { preset: "quick", outDir: "x", methods: ["vera"] }, "b"),
    /Unknown method "vera"/,
  );
  assert.throws(() => plannedRuns(preset, { preset: "quick", outDir: "x", ranks: [0] }, "b"), /rank "0"/);
  const tooLarge = plannedRuns(preset, { preset: "quick", outDir: "x", methods: ["mora"], ranks: [64] }, "b");
  assert.throws(() => checkRanksFit(tooLarge, TINY_CONFIG), /mora at r=64: its r̂ \d+ exceeds 32/);
  await assert.rejects(
    () => makeUuidSuite({ preset: "paper", outDir: "x" }).run({} as BenchContext),
    /needs a Hugging Face LLaMA directory: pass --base DIR/,
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
    // fft, lora r1, lora r2, mora r1, mora r2 (the sweep 1, 2 is already covered).
    assert.equal(first.length, 5);
    for (const r of first) {
      assert.equal(r.evals.length, new Set(TINY_PRESET.evalFractions.map((f) => Math.round(f * 4))).size);
      assert.ok(r.evals.every((e) => e.charAccuracy >= 0 && e.charAccuracy <= 1));
      assert.ok(r.losses.length > 0 && r.losses.every((l) => Number.isFinite(l.loss)));
    }
    const journal = `${outDir}/uuid-quick.jsonl`;
    await Deno.writeTextFile(journal, '{"id": "truncated', { append: true });
    const warnings: string[] = [];
    const kept = await readResults<UuidRunRecord>(journal, { warn: (w) => warnings.push(w) });
    assert.equal(kept.length, 5);
    assert.match(warnings[0]!, /Skipping line 6 of/);
    const again: string[] = [];
    const second = await makeUuidSuite(options).run(await context(again));
    assert.deepEqual(second.map((r) => r.id), first.map((r) => r.id));
    assert.equal(again.filter((l) => l.includes("recorded earlier, skipped")).length, 5);
    const section = makeUuidSuite(options).section(second, (await context([])).environment);
    assert.equal(section.tables[1]!.rows.length, 5); // the paper's Table 1 rows
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
    assert.equal(resumed.length, 5);
    assert.deepEqual(resumed.slice(0, survived.length).map((r) => r.id), survived.map((r) => r.id));
    assert.equal(log.filter((l) => l.includes("recorded earlier")).length, survived.length);
    await Deno.remove(outDir, { recursive: true });
  },
});

import assert from "node:assert/strict";
import { makeTrainingSuite, stepCases, stepConfigs } from "../../benchmarks/training.ts";
import { ADAPTER_METHODS } from "../../lib/adapters/registry.ts";
import { recordEnvironment } from "../../lib/harness/env.ts";
import { gpuTest, testGpu } from "../_gpu.ts";

Deno.test("the training-step bench has every registered method under its own name", () => {
  const cases = stepCases([8, 32], false);
  for (const method of Object.values(ADAPTER_METHODS)) {
    const ranks = cases.filter((c) => c.method === method.name).map((c) => c.rank);
    assert.deepEqual(ranks, method.trainsBase ? [null] : [8, 32], method.name);
  }
  const merging = cases.filter((c) => c.options?.mergeEvery !== undefined).map((c) => c.method);
  assert.deepEqual([...new Set(merging)], ["relora", "remora"]);
  assert.deepEqual(cases.filter((c) => c.method === "mora").map((c) => c.variant), ["rotation", "sharing"]);
});

Deno.test("the full bench times a reference and a medium config, ≥ 15 steps per method; paper needs a base", async () => {
  const configs = stepConfigs({}, false);
  assert.deepEqual(configs.map((c) => c.name), ["reference", "medium"]);
  for (const c of configs) assert.ok(c.minSteps >= 15, c.name);
  assert.deepEqual(configs[1]!.cases.map((c) => `${c.method} ${c.rank}`), [
    "fft null",
    "lora 8",
    "lora 32",
    "mora 8",
    "mora 32",
  ]);
  const paper = stepConfigs({ preset: "paper", base: "/nowhere" }, false);
  assert.deepEqual(paper.map((c) => [c.name, c.seqLen]), [["paper", 1024]]);
  assert.deepEqual([...new Set(paper[0]!.cases.map((c) => c.rank))], [8, 256]);
  await assert.rejects(makeTrainingSuite({ preset: "paper" }).validate!(), /pass --base DIR/);
});

Deno.test({
  name: "the training-step bench interleaves every method, merges ReLoRA/ReMoRA and times the merges apart",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const environment = await recordEnvironment(gpu.adapter);
    const suite = makeTrainingSuite();
    const records = await suite.run({
      gpu,
      environment,
      timing: { warmup: 1, targetMs: 0, trials: 2, maxRepetitions: 1 },
      quick: true,
      progress: () => {},
    });
    assert.deepEqual(records.map((r) => r.method), stepCases([8], true).map((c) => c.method));
    const rounds = records[0]!.timing.trialsMs.length;
    for (const r of records) {
      assert.equal(r.timing.trialsMs.length, rounds, `${r.method}: one trial per interleaved round`);
      assert.ok(r.timing.bestMs > 0 && Number.isFinite(r.timing.bestMs), r.method);
      assert.ok(r.peakBytes > 0, r.method);
      const merges = ADAPTER_METHODS[r.method]!.attach !== undefined;
      assert.equal(r.merges !== undefined, merges, r.method);
      if (r.merges) assert.ok(r.merges.count >= 1 && r.merges.meanMs > 0 && r.merges.every === 2);
    }
    assert.ok(records.find((r) => r.method === "fft")!.trainsBase);
    const section = suite.section(records, environment);
    const steps = section.tables[0]!;
    assert.ok(steps.rows.some((row) => String(row.at(-1)).includes("every 2 steps")));
    // LoRA's time ÷ FFT is a paired ratio "median [q1–q3]", and the targets table gives a verdict for it.
    const lora = steps.rows.find((row) => row[0] === "lora")!;
    assert.match(String(lora[steps.columns.indexOf("time ÷ FFT")]), /^\d+\.\d\d \[\d+\.\d\d–\d+\.\d\d\]$/);
    const targets = section.tables[1]!;
    const verdicts = targets.rows.map((row) => row.at(-1));
    assert.ok(
      verdicts.length > 0 && verdicts.every((v) => ["met", "missed", "inconclusive"].includes(String(v))),
    );
  },
});

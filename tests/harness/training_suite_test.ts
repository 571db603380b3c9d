import assert from "node:assert/strict";
import { stepCases, trainingSuite } from "../../benchmarks/training.ts";
import { ADAPTER_METHODS } from "../../lib/adapters/registry.ts";
import { recordEnvironment } from "../../lib/harness/env.ts";
import { gpuTest, testGpu } from "../_gpu.ts";

Deno.test("the training-step bench has every registered method under its own name", () => {
  const cases = stepCases(false);
  for (const method of Object.values(ADAPTER_METHODS)) {
    const ranks = cases.filter((c) => c.method === method.name).map((c) => c.rank);
    assert.deepEqual(ranks, method.trainsBase ? [null] : [8, 32], method.name);
  }
  const merging = cases.filter((c) => c.options?.mergeEvery !== undefined).map((c) => c.method);
  assert.deepEqual([...new Set(merging)], ["relora", "remora"]);
  assert.deepEqual(cases.filter((c) => c.method === "mora").map((c) => c.variant), ["rotation", "sharing"]);
});

Deno.test({
  name: "the training-step bench merges ReLoRA and ReMoRA within the run and times the merges apart",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const environment = await recordEnvironment(gpu.adapter);
    const records = await trainingSuite.run({
      gpu,
      environment,
      timing: { warmup: 1, targetMs: 0, trials: 2, maxRepetitions: 1 },
      quick: true,
      progress: () => {},
    });
    assert.deepEqual(records.map((r) => r.method), stepCases(true).map((c) => c.method));
    for (const r of records) {
      assert.ok(r.timing.bestMs > 0 && Number.isFinite(r.timing.bestMs), r.method);
      const merges = ADAPTER_METHODS[r.method]!.attach !== undefined;
      assert.equal(r.merges !== undefined, merges, r.method);
      if (r.merges) assert.ok(r.merges.count >= 1 && r.merges.meanMs > 0 && r.merges.every === 2);
    }
    assert.ok(records.find((r) => r.method === "fft")!.trainsBase);
    const section = trainingSuite.section(records, environment);
    assert.ok(section.tables[0]!.rows.some((row) => String(row.at(-1)).includes("every 2 steps")));
  },
});

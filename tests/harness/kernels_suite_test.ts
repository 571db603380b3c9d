import assert from "node:assert/strict";
import { kernelSuite } from "../../benchmarks/kernels.ts";
import { recordEnvironment } from "../../lib/harness/env.ts";
import { recordGflops, recordGigabytes } from "../../lib/harness/kernel_records.ts";
import { gpuTest, testGpu } from "../_gpu.ts";

Deno.test({
  name: "the kernel suite runs every op once in quick mode and reports finite throughput",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const environment = await recordEnvironment(gpu.adapter);
    const progress: string[] = [];
    const records = await kernelSuite.run({
      gpu,
      environment,
      timing: { warmup: 0, targetMs: 0, trials: 1, maxRepetitions: 1 },
      quick: true,
      progress: (line) => progress.push(line),
    });
    // Quick: 2 squares and 2 rectangles in 3 layouts, the jax-js pairing, one attention and one RMSNorm case.
    assert.deepEqual(records.map((r) => r.op), [
      ...Array(12).fill("matmul"),
      "matmul-peer",
      "attention",
      "rmsnorm",
    ]);
    for (const r of records) {
      const rate = r.op === "rmsnorm" ? recordGigabytes(r) : recordGflops(r);
      assert.ok(rate !== null && Number.isFinite(rate) && rate > 0, `${r.label}: ${rate}`);
      assert.equal(r.timing.repetitions, 1);
    }
    const peer = records.find((r) => r.op === "matmul-peer")!;
    assert.equal(peer.timing.trialsMs.length, 3, "three interleaved rounds in quick mode");
    assert.equal(peer.peer!.timing.trialsMs.length, 3, "the peer timed in the same rounds");
    assert.ok(peer.peer!.timing.bestMs > 0);
    assert.equal(progress.length, 2 * records.length, "a start and an end line per case");
    const section = kernelSuite.section(records, environment);
    const captions = section.tables.map((t) => t.caption);
    assert.equal(captions.filter((c) => c?.startsWith("Our matmul against another")).length, 1);
    assert.equal(section.tables.length, gpu.adapter.isFallbackAdapter ? 6 : 5, captions.join("\n"));
  },
});

import assert from "node:assert/strict";
import { createTensor, readTensor } from "../../lib/gpu/tensor.ts";
import {
  calibrateRepetitions,
  dispatchRepeater,
  gflopsPerSecond,
  gigabytesPerSecond,
  measure,
} from "../../lib/harness/timing.ts";
import { addScaledForward } from "../../lib/ops/elementwise.ts";
import { gpuTest, testGpu } from "../_gpu.ts";

/** Fake work whose R repetitions take R·msPerRep of busy CPU time; logs every R it was asked for. */
function busyWork(msPerRep: number, calls: number[]) {
  return (repetitions: number) => {
    calls.push(repetitions);
    const end = performance.now() + repetitions * msPerRep;
    while (performance.now() < end) { /* spin */ }
    return Promise.resolve();
  };
}

Deno.test("measure warms up, grows R until a trial reaches the target, then times the trials", async () => {
  const calls: number[] = [];
  const timing = await measure(busyWork(1, calls), {
    warmup: 2,
    targetMs: 12,
    trials: 3,
    maxRepetitions: 64,
  });
  assert.deepEqual(calls.slice(0, 2), [1, 1], "two warm-up runs of one repetition");
  const calibration = calls.slice(2, -3);
  assert.equal(calibration[0], 1);
  assert.ok(calibration.every((r, i) => i === 0 || r > calibration[i - 1]!), `R grows: ${calibration}`);
  // Without preemption R·1 ms first reaches 12 ms at R = 15 (1 ms predicts 12·1.2 repetitions).
  assert.ok(timing.repetitions <= 15, `R = ${timing.repetitions}`);
  assert.deepEqual(calls.slice(-3), [timing.repetitions, timing.repetitions, timing.repetitions]);
  assert.equal(timing.trialsMs.length, 3);
  assert.ok(timing.bestMs >= 1 && timing.bestMs <= timing.meanMs, JSON.stringify(timing));
  assert.equal(timing.bestMs, Math.min(...timing.trialsMs));
});

Deno.test("calibration stops at maxRepetitions", async () => {
  const calls: number[] = [];
  assert.equal(await calibrateRepetitions(busyWork(0.01, calls), 1000, 8), 8);
  assert.ok(calls.every((r) => r <= 8), calls.join(","));
});

Deno.test("invalid timing options are refused", async () => {
  const work = () => Promise.resolve();
  await assert.rejects(measure(work, { trials: 0 }), /trials must be a positive integer/);
  await assert.rejects(measure(work, { targetMs: Number.NaN }), /targetMs and warmup must be non-negative/);
});

Deno.test("rates are per 10⁹ per second", () => {
  assert.equal(gflopsPerSecond(2e9, 1000), 2);
  assert.equal(gigabytesPerSecond(5e8, 100), 5);
});

Deno.test({
  name: "dispatchRepeater runs R repetitions in one command buffer, in order",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const n = 300;
    const x = createTensor(gpu, "x", [n]);
    const t = createTensor(gpu, "t", [n]);
    const one = createTensor(gpu, "one", [n], new Float32Array(n).fill(1));
    // t = x + 1, then x = t: each repetition adds one to x, so x counts the repetitions.
    const increment = [
      await addScaledForward(gpu, { out: t, a: x, b: one, alpha: 1, beta: 1 }),
      await addScaledForward(gpu, { out: x, a: t, b: one, alpha: 1, beta: 0 }),
    ];
    await dispatchRepeater(gpu, increment)(7);
    const values = await readTensor(x);
    assert.ok(values.every((v) => v === 7), `x[0] = ${values[0]}`);
    for (const tensor of [x, t, one]) tensor.destroy();
  },
});

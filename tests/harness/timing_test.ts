import assert from "node:assert/strict";
import { createTensor, readTensor } from "../../lib/gpu/tensor.ts";
import {
  calibrateRepetitions,
  dispatchRepeater,
  gflopsPerSecond,
  gigabytesPerSecond,
  measure,
  measureInterleaved,
} from "../../lib/harness/timing.ts";
import { pairedRatio } from "../../lib/experiment/stats.ts";
import { addScaledForward } from "../../lib/ops/elementwise.ts";
import { gpuTest, testGpu } from "../_gpu.ts";

/**
 * Fake work on a fake clock: R repetitions advance the clock by exactly R·msPerRep (plus `stall` ms on the
 * calls it lists, as a preempted run would), so the timings do not depend on the machine's load.
 */
function clockedWork(msPerRep: number, stalls: Record<number, number> = {}) {
  let now = 0;
  const calls: number[] = [];
  const work = (repetitions: number) => {
    now += repetitions * msPerRep + (stalls[calls.length] ?? 0);
    calls.push(repetitions);
    return Promise.resolve();
  };
  return { work, calls, clock: () => now };
}

Deno.test("measure warms up, grows R until a trial reaches the target, then times the trials", async () => {
  const { work, calls, clock } = clockedWork(1);
  const timing = await measure(work, { warmup: 2, targetMs: 12, trials: 3, maxRepetitions: 64, clock });
  // Two warm-ups of one repetition; R = 1 takes 1 ms, which predicts ⌈12·1.2⌉ = 15; 15 ms reaches 12 ms.
  assert.deepEqual(calls, [1, 1, 1, 15, 15, 15, 15]);
  assert.deepEqual(timing, { meanMs: 1, bestMs: 1, repetitions: 15, trialsMs: [1, 1, 1] });
});

Deno.test("a stalled run slows calibration down and counts in the mean, not the best", async () => {
  // Calibration's R = 1 stalls 3 ms (4 ms predicts R = 4); R = 4 takes 4 ms (predicts 15).
  // Trial 2 stalls 10 ms.
  const { work, calls, clock } = clockedWork(1, { 1: 3, 5: 10 });
  const timing = await measure(work, { warmup: 1, targetMs: 12, trials: 2, clock });
  assert.deepEqual(calls, [1, 1, 4, 15, 15, 15]);
  assert.deepEqual(timing.trialsMs, [1, 25 / 15]);
  assert.equal(timing.bestMs, 1);
  assert.equal(timing.meanMs, (1 + 25 / 15) / 2);
});

/**
 * Works sharing one fake clock whose machine slows down over time: the n-th call of any work runs
 * (1 + drift·n) times slower, as a machine that other jobs load more and more.
 */
function driftingWorks(msPerRep: number[], drift: number) {
  let now = 0, n = 0;
  const order: number[] = [];
  const works = msPerRep.map((ms, i) => (repetitions: number) => {
    now += repetitions * ms * (1 + drift * n++);
    order.push(i);
    return Promise.resolve();
  });
  return { works, order, clock: () => now };
}

Deno.test("measureInterleaved rotates the works each round, so a drift hits them alike", async () => {
  const { works, order, clock } = driftingWorks([1, 2, 4], 0.05);
  const [a, b, c] = await measureInterleaved(works, { warmup: 0, targetMs: 0, rounds: 3, clock });
  // Calibration at targetMs 0: one call of R = 1 each; then rounds ABC, BCA, CAB.
  assert.deepEqual(order, [0, 1, 2, 0, 1, 2, 1, 2, 0, 2, 0, 1]);
  assert.equal(a!.trialsMs.length, 3);
  // Each round's b/a ratio is 2 up to the drift between their neighbouring calls (one or two calls apart).
  const ratio = pairedRatio(b!.trialsMs, a!.trialsMs);
  assert.ok(Math.abs(ratio.median - 2) < 0.25, `median ${ratio.median}`);
  assert.ok(c!.bestMs > b!.bestMs && b!.bestMs > a!.bestMs);
});

Deno.test("measureInterleaved raises R to reach the fewest repetitions asked for", async () => {
  const { works, clock } = driftingWorks([1, 1], 0);
  const timings = await measureInterleaved(works, { targetMs: 1, rounds: 4, minRepetitions: 15, clock });
  // R = 1 reaches targetMs 1, but 4 rounds of 1 repetition are fewer than 15: R becomes ⌈15/4⌉ = 4.
  assert.deepEqual(timings.map((t) => t.repetitions), [4, 4]);
  assert.deepEqual(timings[0]!.trialsMs, [1, 1, 1, 1]);
});

Deno.test("calibration stops at maxRepetitions", async () => {
  const { work, calls, clock } = clockedWork(0.01);
  assert.equal(await calibrateRepetitions(work, 1000, 8, clock), 8);
  assert.deepEqual(calls, [1], "0.01 ms predicts far more than 8 repetitions");
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

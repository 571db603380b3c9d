import assert from "node:assert/strict";
import { LearningRate, scheduleMultiplier, validateSchedule } from "../../lib/train/schedule.ts";

const close = (a: number, b: number, tol: number, what: string) =>
  assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

Deno.test("transformers schedules: warmup, then constant, linear or cosine decay to 0", () => {
  const s = { warmupSteps: 10, totalSteps: 110 };
  assert.equal(scheduleMultiplier({ ...s, kind: "cosine" }, 0), 0);
  assert.equal(scheduleMultiplier({ ...s, kind: "cosine" }, 5), 0.5);
  assert.equal(scheduleMultiplier({ ...s, kind: "cosine" }, 10), 1);
  close(scheduleMultiplier({ ...s, kind: "cosine" }, 60), 0.5, 1e-12, "cosine midpoint");
  assert.equal(scheduleMultiplier({ ...s, kind: "cosine" }, 110), 0);
  close(scheduleMultiplier({ ...s, kind: "linear" }, 60), 0.5, 1e-12, "linear midpoint");
  assert.equal(scheduleMultiplier({ ...s, kind: "linear" }, 200), 0);
  assert.equal(scheduleMultiplier({ ...s, kind: "constant" }, 100), 1);
});

Deno.test("MoRA's ReLoRA restart reproduces the spec's test vector (baselines §7.2)", () => {
  // lr 1e-3, S = 300, cosine warmup 10, T = 100, W_r = 5; the spec prints 4 significant digits (2 for u300).
  const lr = new LearningRate(1e-3, { kind: "cosine", warmupSteps: 10, totalSteps: 300 });
  const expected: Record<number, number> = {
    100: 7.851e-4,
    101: 7.806e-4,
    102: 1.561e-4,
    103: 3.122e-4,
    106: 7.806e-4,
    107: 7.805e-4,
    201: 4.060e-4,
    202: 8.120e-5,
    300: 1.1e-7,
  };
  for (let u = 1; u <= 300; u++) {
    if (expected[u] !== undefined) {
      close(lr.at(u), expected[u]!, Math.max(5e-9, expected[u]! * 1e-3), `u${u}`);
    }
    if (u === 100 || u === 200) lr.restart(u, 5);
  }
});

Deno.test("invalid schedules are rejected with the field named", () => {
  assert.throws(
    () => validateSchedule({ kind: "step" as "linear", warmupSteps: 0, totalSteps: 1 }),
    /schedule "step"/,
  );
  assert.throws(() => validateSchedule({ kind: "linear", warmupSteps: -1, totalSteps: 1 }), /warmup of -1/);
  assert.throws(() => validateSchedule({ kind: "linear", warmupSteps: 0, totalSteps: 0 }), /0 total steps/);
});

Deno.test("ReLoRA's jagged cosine reproduces the spec's test vector (baselines §7.5)", () => {
  // S = 10000, W1 = 1000, W_r = 50, C = 2000, ρ = 0.1; the spec prints 6 decimals.
  const s = {
    kind: "jagged",
    warmupSteps: 1000,
    totalSteps: 10000,
    jagged: { cycle: 2000, restartWarmup: 50, minRatio: 0.1 },
  } as const;
  const expected: Record<number, number> = {
    0: 0,
    500: 0.5,
    1000: 1,
    1999: 0.972915,
    2000: 0,
    2001: 0.019402,
    2025: 0.485056,
    2050: 0.970111,
    2051: 0.970055,
    4000: 0,
    9999: 0.1,
  };
  for (const [t, value] of Object.entries(expected)) {
    close(scheduleMultiplier(s, Number(t)), value, 5e-7, `λ(${t})`);
  }
  assert.throws(() => validateSchedule({ ...s, totalSteps: 9000 }), /dividing the 9000 total steps/);
});

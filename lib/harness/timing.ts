/**
 * Timing GPU work honestly when each queue wait is expensive (about 11 ms on the software adapter)
 * and each dispatch costs 40–60 µs: warm up, pick a repetition count R so one trial lasts long enough
 * to hide the wait, encode R repetitions into ONE command buffer and wait once, and keep the best and
 * the mean of a few trials.
 *
 * {@link measure} takes any "run R repetitions and wait" function, so training steps or adapter
 * forwards time the same way as single kernels ({@link dispatchRepeater}).
 *
 * @module
 */

import type { Gpu } from "../gpu/device.ts";
import { type Dispatch, encodeDispatches } from "../gpu/kernel.ts";

/** Runs `repetitions` repetitions of the work and resolves when the GPU has finished all of them. */
export type RepeatedWork = (repetitions: number) => Promise<number | void>;

/** Options of {@link measure}. */
export interface TimingOptions {
  /** Untimed runs of one repetition before calibration (compiles, warms caches). Default 1. */
  warmup?: number;
  /** Shortest wall time of one trial, ms; R grows until a trial takes this long. Default 200. */
  targetMs?: number;
  /** Timed trials at the calibrated R. Default 3. */
  trials?: number;
  /** Upper bound of R. Default 512. */
  maxRepetitions?: number;
  /** The clock trials are timed with, in ms; `performance.now` by default (tests pass a fake one). */
  clock?: () => number;
}

/** The time of one repetition, from trials of R repetitions each. */
export interface Timing {
  /** Mean over trials of (trial time / R), ms. */
  meanMs: number;
  /** Best over trials of (trial time / R), ms. */
  bestMs: number;
  /** Repetitions per trial (R). */
  repetitions: number;
  /** Per-repetition time of every trial, ms. */
  trialsMs: number[];
}

/** The defaults of {@link TimingOptions}. */
export const DEFAULT_TIMING: Required<TimingOptions> = {
  warmup: 1,
  targetMs: 200,
  trials: 3,
  maxRepetitions: 512,
  clock: () => performance.now(),
};

/**
 * Warms up, calibrates R, then times `options.trials` trials of R repetitions.
 *
 * @example Time a kernel
 * ```ts
 * import { requestGpu } from "../gpu/device.ts";
 * import { createTensor } from "../gpu/tensor.ts";
 * import { matmul } from "../ops/matmul.ts";
 *
 * const gpu = await requestGpu();
 * const [a, b, out] = ["a", "b", "out"].map((name) => createTensor(gpu, name, [64, 64]));
 * const dispatches = await matmul(gpu, { out: out!, a: a!, b: b!, layout: "nt", m: 64, n: 64, k: 64 });
 * const timing = await measure(dispatchRepeater(gpu, dispatches), { targetMs: 20, trials: 3 });
 * console.log(`64×64×64 matmul: ${timing.bestMs.toFixed(3)} ms at R = ${timing.repetitions}`);
 * gpu.device.destroy();
 * ```
 */
export async function measure(work: RepeatedWork, options: TimingOptions = {}): Promise<Timing> {
  const opts = { ...DEFAULT_TIMING, ...options };
  validateTimingOptions(opts);
  for (let i = 0; i < opts.warmup; i++) await work(1);
  const repetitions = await calibrateRepetitions(work, opts.targetMs, opts.maxRepetitions, opts.clock);
  const trialsMs: number[] = [];
  for (let i = 0; i < opts.trials; i++) {
    trialsMs.push((await timeOnce(work, repetitions, opts.clock)) / repetitions);
  }
  return timingOf(trialsMs, repetitions);
}

function timingOf(trialsMs: number[], repetitions: number): Timing {
  return {
    meanMs: trialsMs.reduce((sum, ms) => sum + ms, 0) / trialsMs.length,
    bestMs: Math.min(...trialsMs),
    repetitions,
    trialsMs,
  };
}

function validateTimingOptions(opts: Required<TimingOptions>): void {
  for (const key of ["trials", "maxRepetitions"] as const) {
    if (!Number.isInteger(opts[key]) || opts[key] < 1) {
      throw new RangeError(`Cannot time work: ${key} must be a positive integer, got ${opts[key]}`);
    }
  }
  if (!(opts.targetMs >= 0) || !Number.isInteger(opts.warmup) || opts.warmup < 0) {
    throw new RangeError(
      `Cannot time work: targetMs and warmup must be non-negative, got ${opts.targetMs} and ${opts.warmup}`,
    );
  }
}

/**
 * The smallest R (doubling or better, Go-benchmark style) whose trial takes at least `targetMs`,
 * capped at `maxRepetitions`.
 */
export async function calibrateRepetitions(
  work: RepeatedWork,
  targetMs: number,
  maxRepetitions: number,
  clock: () => number = DEFAULT_TIMING.clock,
): Promise<number> {
  let repetitions = 1;
  while (repetitions < maxRepetitions) {
    const ms = await timeOnce(work, repetitions, clock);
    if (ms >= targetMs) break;
    const predicted = Math.ceil((repetitions * targetMs * 1.2) / Math.max(ms, 1e-3));
    repetitions = Math.min(maxRepetitions, Math.max(2 * repetitions, Math.min(predicted, 100 * repetitions)));
  }
  return repetitions;
}

async function timeOnce(work: RepeatedWork, repetitions: number, clock: () => number): Promise<number> {
  const start = clock();
  const excluded = (await work(repetitions)) ?? 0;
  return clock() - start - excluded;
}

/** Options of {@link measureInterleaved}. */
export interface InterleavedOptions {
  /** Untimed runs of one repetition of each work before calibration. Default 1. */
  warmup?: number;
  /** Shortest wall time of one trial, ms (R is calibrated per work). Default 200. */
  targetMs?: number;
  /** Rounds; each round times one trial of every work, in turn. */
  rounds: number;
  /** Fewest timed repetitions per work over all rounds (R is raised to reach it). Default 1. */
  minRepetitions?: number;
  /** The clock, in ms; `performance.now` by default. */
  clock?: () => number;
}

/**
 * Times several works side by side: calibrates each one's R, then runs `rounds` rounds of one trial of each
 * work in turn (A B C A B C …, the starting work rotating each round), so that drift of a shared machine hits
 * every work alike and round i of one work can be paired with round i of another. Trial i of every returned
 * timing is round i.
 */
export async function measureInterleaved(
  works: readonly RepeatedWork[],
  options: InterleavedOptions,
): Promise<Timing[]> {
  const opts = { ...DEFAULT_TIMING, minRepetitions: 1, ...options };
  validateTimingOptions({ ...opts, trials: opts.rounds });
  const repetitions: number[] = [];
  for (const work of works) {
    for (let i = 0; i < opts.warmup; i++) await work(1);
    const calibrated = await calibrateRepetitions(work, opts.targetMs, opts.maxRepetitions, opts.clock);
    repetitions.push(Math.max(calibrated, Math.ceil(opts.minRepetitions / opts.rounds)));
  }
  const trials: number[][] = works.map(() => []);
  for (let round = 0; round < opts.rounds; round++) {
    for (let j = 0; j < works.length; j++) {
      const i = (round + j) % works.length;
      trials[i]!.push((await timeOnce(works[i]!, repetitions[i]!, opts.clock)) / repetitions[i]!);
    }
  }
  return trials.map((trialsMs, i) => timingOf(trialsMs, repetitions[i]!));
}

/**
 * Work that encodes `dispatches` R times into one command buffer, submits it and waits once.
 *
 * @example
 * ```ts
 * import { requestGpu } from "../gpu/device.ts";
 * import { createTensor } from "../gpu/tensor.ts";
 * import { matmul } from "../ops/matmul.ts";
 *
 * const gpu = await requestGpu();
 * const [a, b, out] = ["a", "b", "out"].map((name) => createTensor(gpu, name, [64, 64]));
 * const dispatches = await matmul(gpu, { out: out!, a: a!, b: b!, layout: "nt", m: 64, n: 64, k: 64 });
 * await dispatchRepeater(gpu, dispatches)(10); // 10 repetitions, one queue wait
 * gpu.device.destroy();
 * ```
 */
export function dispatchRepeater(gpu: Gpu, dispatches: readonly Dispatch[]): RepeatedWork {
  return async (repetitions) => {
    const encoder = gpu.device.createCommandEncoder();
    for (let i = 0; i < repetitions; i++) encodeDispatches(encoder, dispatches);
    gpu.device.queue.submit([encoder.finish()]);
    await gpu.device.queue.onSubmittedWorkDone();
  };
}

/** GFLOP/s of `flops` floating-point operations done in `ms` milliseconds. */
export function gflopsPerSecond(flops: number, ms: number): number {
  return flops / (ms * 1e6);
}

/** GB/s (10⁹ bytes) of `bytes` moved in `ms` milliseconds. */
export function gigabytesPerSecond(bytes: number, ms: number): number {
  return bytes / (ms * 1e6);
}

/**
 * Learning-rate schedules as multipliers of the base rate, with Hugging Face transformers semantics
 * (`get_constant_schedule_with_warmup`, `get_linear_schedule_with_warmup`, `get_cosine_schedule_with_warmup`):
 * update u (1-based) uses the multiplier at scheduler step t = u − 1.
 *
 * A restart (ReLoRA/ReMoRA, MoRA-faithful) replaces the schedule from some step on ({@link LearningRate.restart});
 * ReLoRA's own jagged cosine (`jagged`) builds its restarts into the schedule instead.
 *
 * @module
 */

/**
 * Shape of the multiplier after warmup: `constant` 1; `linear` and `cosine` decay to 0 at the last step;
 * `jagged` is ReLoRA's cosine with restarts ({@link ScheduleConfig.jagged}).
 */
export type ScheduleKind = "constant" | "linear" | "cosine" | "jagged";

/** A schedule: warmup steps, total steps, kind. */
export interface ScheduleConfig {
  /** Shape after warmup. */
  kind: ScheduleKind;
  /** Linear warmup from 0 over this many scheduler steps. */
  warmupSteps: number;
  /** Total scheduler steps (the horizon of linear/cosine decay to 0). */
  totalSteps: number;
  /** `jagged` only: restart cycle C, re-warmup after each restart, and the floor ρ (default 0.1). */
  jagged?: { cycle: number; restartWarmup: number; minRatio?: number };
}

/**
 * ReLoRA's jagged cosine (`cosine_restarts`, spec baselines §7.5): one cosine envelope from 1 to the floor ρ over
 * the run, with a linear re-warmup of `restartWarmup` steps at the start of every cycle after the first.
 */
export function jaggedCosineMultiplier(s: ScheduleConfig, t: number): number {
  const { cycle, restartWarmup } = s.jagged!;
  const rho = s.jagged!.minRatio ?? 0.1;
  const w1 = s.warmupSteps;
  if (t < w1) return t / Math.max(1, w1);
  const envelope = (p: number) => rho + (1 - rho) * 0.5 * (1 + Math.cos(Math.PI * p));
  const span = s.totalSteps - w1;
  const q = t % cycle;
  if (q < restartWarmup && t >= cycle) {
    return (q / restartWarmup) * envelope((Math.floor(t / cycle) * cycle + restartWarmup - w1) / span);
  }
  return envelope((t - w1) / span);
}

/** Multiplier at scheduler step t (0-based), transformers semantics; never negative. */
export function scheduleMultiplier(s: ScheduleConfig, t: number): number {
  if (s.kind === "jagged") return jaggedCosineMultiplier(s, t);
  if (t < s.warmupSteps) return t / Math.max(1, s.warmupSteps);
  const span = Math.max(1, s.totalSteps - s.warmupSteps);
  const progress = (t - s.warmupSteps) / span;
  switch (s.kind) {
    case "constant":
      return 1;
    case "linear":
      return Math.max(0, (s.totalSteps - t) / span);
    case "cosine":
      return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * progress)));
  }
  throw new RangeError(`Cannot use schedule "${s.kind}"`);
}

/** Validates a schedule, naming the bad field. */
export function validateSchedule(s: ScheduleConfig): void {
  if (!["constant", "linear", "cosine", "jagged"].includes(s.kind)) {
    throw new RangeError(`Cannot use schedule "${s.kind}": expected constant, linear, cosine or jagged`);
  }
  if (s.kind === "jagged") {
    const j = s.jagged;
    if (
      !j || !(j.cycle >= 1) || !(j.restartWarmup >= 0) || s.totalSteps % j.cycle !== 0 ||
      s.warmupSteps > j.cycle
    ) {
      throw new RangeError(
        `Cannot use the jagged schedule: it needs jagged.cycle ≥ 1 dividing the ${s.totalSteps} total steps, ` +
          `a restart warmup ≥ 0 and a first warmup no longer than a cycle (ReLoRA's rules)`,
      );
    }
  }
  if (!(s.warmupSteps >= 0) || !Number.isInteger(s.warmupSteps)) {
    throw new RangeError(`Cannot use warmup of ${s.warmupSteps} steps: expected a non-negative integer`);
  }
  if (!(s.totalSteps >= 1) || !Number.isInteger(s.totalSteps)) {
    throw new RangeError(`Cannot use ${s.totalSteps} total steps: expected a positive integer`);
  }
}

/** A {@link LearningRate}'s restart state: its current base, schedule and offset (plain JSON). */
export interface LearningRateState {
  /** The rate the schedule scales (the rate at the last restart). */
  base: number;
  /** The schedule since the last restart. */
  schedule: ScheduleConfig;
  /** The update of the last restart (0 without one). */
  offset: number;
  /** The update that keeps the rate of the one before it (the restart's stale first update), or −1. */
  staleUpdate: number;
  /** That update's rate. */
  staleRate: number;
}

/**
 * The learning rate of every update under a base rate and a schedule, with restarts: after update
 * `restartAt` completes, the schedule becomes `kind` with `warmupSteps` over the remaining steps, re-warming
 * to the rate in force at the restart (MoRA's `ResetReloraCallback`, spec baselines §7.2, including its
 * stale first update).
 */
export class LearningRate {
  #base: number;
  #schedule: ScheduleConfig;
  #offset = 0;
  #staleUpdate = -1;
  #staleRate = 0;

  /**
   * Validates the schedule.
   *
   * @param base peak learning rate
   * @param schedule its schedule
   */
  constructor(base: number, schedule: ScheduleConfig) {
    validateSchedule(schedule);
    this.#base = base;
    this.#schedule = schedule;
  }

  /** Learning rate of update u (1-based). */
  at(update: number): number {
    if (update === this.#staleUpdate) return this.#staleRate;
    return this.#base * scheduleMultiplier(this.#schedule, update - 1 - this.#offset);
  }

  /** What the rate depends on besides the update number (changed by {@link restart}), for a resumable state. */
  get state(): LearningRateState {
    return {
      base: this.#base,
      schedule: this.#schedule,
      offset: this.#offset,
      staleUpdate: this.#staleUpdate,
      staleRate: this.#staleRate,
    };
  }

  /** Restores a {@link state} read from a rate of the same run. */
  set state(s: LearningRateState) {
    validateSchedule(s.schedule);
    this.#base = s.base;
    this.#schedule = s.schedule;
    this.#offset = s.offset;
    this.#staleUpdate = s.staleUpdate;
    this.#staleRate = s.staleRate;
  }

  /** Restarts after update `u` completed: re-warm over `warmupSteps` to the rate of update u+1. */
  restart(u: number, warmupSteps: number): void {
    const current = this.at(u + 1);
    this.#staleUpdate = u + 1;
    this.#staleRate = current;
    this.#base = current;
    this.#schedule = {
      kind: this.#schedule.kind,
      warmupSteps,
      totalSteps: this.#schedule.totalSteps - (u - this.#offset),
    };
    this.#offset = u;
  }
}

/**
 * Learning-rate schedules as multipliers of the base rate, with Hugging Face transformers semantics
 * (`get_constant_schedule_with_warmup`, `get_linear_schedule_with_warmup`, `get_cosine_schedule_with_warmup`):
 * update u (1-based) uses the multiplier at scheduler step t = u − 1.
 *
 * A restart (ReLoRA/ReMoRA) replaces the schedule from some step on; {@link restartSchedule} builds that.
 *
 * @module
 */

/** Schedule kinds. */
export type ScheduleKind = "constant" | "linear" | "cosine";

/** A schedule: warmup steps, total steps, kind. */
export interface ScheduleConfig {
  /** Shape after warmup. */
  kind: ScheduleKind;
  /** Linear warmup from 0 over this many scheduler steps. */
  warmupSteps: number;
  /** Total scheduler steps (the horizon of linear/cosine decay to 0). */
  totalSteps: number;
}

/** Multiplier at scheduler step t (0-based), transformers semantics; never negative. */
export function scheduleMultiplier(s: ScheduleConfig, t: number): number {
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
}

/** Validates a schedule, naming the bad field. */
export function validateSchedule(s: ScheduleConfig): void {
  if (!["constant", "linear", "cosine"].includes(s.kind)) {
    throw new RangeError(`Cannot use schedule "${s.kind}": expected constant, linear or cosine`);
  }
  if (!(s.warmupSteps >= 0) || !Number.isInteger(s.warmupSteps)) {
    throw new RangeError(`Cannot use warmup of ${s.warmupSteps} steps: expected a non-negative integer`);
  }
  if (!(s.totalSteps >= 1) || !Number.isInteger(s.totalSteps)) {
    throw new RangeError(`Cannot use ${s.totalSteps} total steps: expected a positive integer`);
  }
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

  /** @param base peak learning rate; @param schedule its schedule */
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

/**
 * The learning-rate search, as the paper searched per method (§5.1, Table 6): every (method, rank) trains at
 * each rate of a grid on a search seed that no reported run uses, and its rate is chosen by a rule fixed in
 * advance that reads training data only ({@link SELECTION_RULE}), never the test metric.
 *
 * @module
 */

import type { RunStatus } from "../records.ts";

/** The rule, in words, as the report prints it. */
export const SELECTION_RULE: string =
  "the lowest final training loss (mean of the last 10% of logged points) on the search seed; runs that " +
  "diverged or did not learn are never chosen; a tie goes to the smaller rate";

/** Mean loss over the last 10% of logged points (at least the last one). */
export function finalTrainingLoss(losses: readonly { loss: number }[]): number {
  if (losses.length === 0) return NaN;
  const tail = losses.slice(-Math.max(1, Math.round(losses.length / 10)));
  return tail.reduce((a, l) => a + l.loss, 0) / tail.length;
}

/** One rate of a grid, as the search ran it. */
export interface GridPoint {
  /** The learning rate. */
  lr: number;
  /** How the run ended. */
  status: RunStatus;
  /** {@link finalTrainingLoss}; NaN for a run that diverged. */
  criterion: number;
}

/** The rate {@link SELECTION_RULE} picks, or undefined when no rate of the grid trained. */
export function chooseRate(grid: readonly GridPoint[]): number | undefined {
  let best: GridPoint | undefined;
  for (const p of [...grid].sort((a, b) => a.lr - b.lr)) {
    if (p.status !== "ok" || !Number.isFinite(p.criterion)) continue;
    if (!best || p.criterion < best.criterion) best = p;
  }
  return best?.lr;
}

/**
 * What a saved search holds after a bench: its records of groups this bench did not search (a bench with
 * `--methods` or `--ranks` plans only some), then this bench's search records, which replace saved ones of the
 * same id. Saving only this bench's records would drop the other groups' searches from the committed file.
 */
export function updatedSearch<R extends { id: string }>(saved: readonly R[], searched: readonly R[]): R[] {
  const ids = new Set(searched.map((r) => r.id));
  return [...saved.filter((r) => !ids.has(r.id)), ...searched];
}

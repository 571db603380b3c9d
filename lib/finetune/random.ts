/**
 * Seeded draws the task builders share: a shuffle and a pick, on the project's named random streams
 * (`lib/random.ts`), so every analog is the same on every machine.
 *
 * @module
 */

import type { SeededRandom } from "../random.ts";

/** A shuffled copy of `items` (Fisher-Yates). */
export function shuffled<T>(items: readonly T[], rng: SeededRandom): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** A uniform integer in [lo, hi]. */
export function intIn(rng: SeededRandom, lo: number, hi: number): number {
  return lo + Math.floor(rng.next() * (hi - lo + 1));
}

/** One item of `items`, uniformly. */
export function pick<T>(rng: SeededRandom, items: readonly T[]): T {
  return items[Math.floor(rng.next() * items.length)]!;
}

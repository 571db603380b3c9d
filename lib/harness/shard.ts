/**
 * Sharding a bench across machines with no coordination beyond the shard number: every unit of work (a run
 * of a run matrix, by its id; a suite that is not a run matrix, whole, by its name) belongs to shard
 * `hash(key) mod N + 1`, with the hash of `lib/random.ts` (FNV-1a and a murmur3 finaliser, the same on every
 * machine), so the N shards partition the work and each unit is in exactly one. Each shard plans the whole
 * bench and writes the plan to `<out>/shard.json` before its work starts (and as it plans more), so a merge
 * can name the runs of a shard that never finished, or never started.
 *
 * @module
 */

import { join } from "node:path";
import { writeFileAtomic } from "../io/safetensors.ts";
import { nameSeed } from "../random.ts";

/** Shard `index` (1-based) of `count`. */
export interface Shard {
  /** This shard, from 1. */
  index: number;
  /** How many shards there are. */
  count: number;
}

/** File name of a shard's manifest in its output directory. */
export const SHARD_MANIFEST = "shard.json";

/**
 * `<out>/shard.json`: the bench's plan as one shard saw it. Every shard plans every suite alike, so any one
 * manifest names the work of a shard that left no output.
 */
export interface ShardManifest {
  schemaVersion: 1;
  shard: Shard;
  /** Each run-matrix suite's run ids so far, in plan order; a run belongs to shard `shardOf(id)`. */
  runs: Record<string, string[]>;
  /** Suites that are not run matrices; each runs whole on shard `shardOf(name)`. */
  whole: string[];
  /** Work of a suite that cannot be planned yet, one line each saying what to do. */
  deferred: Record<string, string[]>;
}

/** What a run-matrix suite tells its shard's manifest. */
export interface ShardContext {
  /** Which shard this is. */
  shard: Shard;
  /** Records every run id of a plan, in order, before this shard's runs start. */
  plan(ids: readonly string[]): Promise<void>;
  /** Records work that cannot be planned yet, as a line that says what to do. */
  defer(line: string): Promise<void>;
}

/**
 * Parses `--shard i/N`.
 *
 * @throws {RangeError} unless it is two integers with 1 ≤ i ≤ N.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(parseShard("2/4"), { index: 2, count: 4 });
 * ```
 */
export function parseShard(text: string): Shard {
  const match = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = Number(match?.[1]), count = Number(match?.[2]);
  if (!match || index < 1 || index > count) {
    throw new RangeError(`Cannot use --shard "${text}": expected i/N with 1 ≤ i ≤ N, such as 2/4`);
  }
  return { index, count };
}

/** The shard (1-based) of `count` that a unit of work with this key belongs to. */
export function shardOf(key: string, count: number): number {
  return nameSeed(0, key) % count + 1;
}

/** Whether the unit of work with this key belongs to `shard`. */
export function inShard(key: string, shard: Shard): boolean {
  return shardOf(key, shard.count) === shard.index;
}

/** Writes a shard's manifest, atomically after every change, so it is on disk before the work it lists. */
export class ShardManifestWriter {
  readonly #path: string;
  readonly #manifest: ShardManifest;

  /** Starts an empty manifest of `shard` in `outDir` (replacing one an earlier attempt left). */
  constructor(outDir: string, readonly shard: Shard) {
    this.#path = join(outDir, SHARD_MANIFEST);
    this.#manifest = { schemaVersion: 1, shard, runs: {}, whole: [], deferred: {} };
  }

  /** Records a suite that is not a run matrix: it runs whole on shard `shardOf(name)`. */
  async planWhole(suite: string): Promise<void> {
    this.#manifest.whole.push(suite);
    await this.#write();
  }

  /** The context a run-matrix suite plans through. */
  forSuite(suite: string): ShardContext {
    return {
      shard: this.shard,
      plan: async (ids) => {
        (this.#manifest.runs[suite] ??= []).push(...ids);
        await this.#write();
      },
      defer: async (line) => {
        (this.#manifest.deferred[suite] ??= []).push(line);
        await this.#write();
      },
    };
  }

  async #write(): Promise<void> {
    const text = `${JSON.stringify(this.#manifest, null, 2)}\n`;
    await writeFileAtomic(this.#path, new TextEncoder().encode(text));
  }
}

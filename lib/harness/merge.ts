/**
 * Merging bench outputs (each a `--out` directory: `results.json`, and `shard.json` for a shard) into one
 * results file. Every record keeps its own provenance. A run-matrix record is keyed by its run id: the same
 * id with the same content is kept once, with different content it is refused. A suite without run ids
 * comes whole from one directory. A suite whose records come from different presets is refused unless
 * mixing is asked for. The shards' plans name what is missing: planned runs with no record, whole suites
 * with none, shards that left no output.
 *
 * @module
 */

import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import type { Provenance } from "../records.ts";
import { adapterName } from "./env.ts";
import { SHARD_MANIFEST, type ShardManifest, shardOf } from "./shard.ts";
import { parseResultsFile, type ResultsFile } from "./suite.ts";

/** One bench output directory. */
export interface BenchOutput {
  dir: string;
  /** Its `results.json`; none when the bench there did not finish. */
  results?: ResultsFile;
  /** Its `shard.json`; none for an unsharded bench. */
  manifest?: ShardManifest;
}

/** Options of {@link mergeBenchOutputs}. */
export interface MergeOptions {
  /** Merge a suite whose records come from different presets. */
  allowMixedPresets?: boolean;
}

/** The merged results and what the merge found. */
export interface MergedResults {
  /** Every record; the environment is that of the first directory with results. */
  results: ResultsFile;
  /** What was merged, one line per directory, then the totals. */
  merged: string[];
  /** Planned work with no record, one line each; empty when nothing is missing. */
  missing: string[];
  /** Work the shards could not plan yet, one line each, saying what to do. */
  deferred: string[];
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

function parseManifest(text: string, path: string): ShardManifest {
  const m = JSON.parse(text) as Partial<ShardManifest>;
  if (m.schemaVersion !== 1 || !m.shard || !m.runs || !m.whole || !m.deferred) {
    throw new SyntaxError(
      `Cannot read the shard manifest "${path}": expected schemaVersion 1 with shard, runs, whole and ` +
        `deferred; run the shard again with this version of \`deno task bench\``,
    );
  }
  return m as ShardManifest;
}

/**
 * Reads a bench output directory.
 *
 * @throws {RangeError} when it has neither `results.json` nor `shard.json`.
 */
export async function readBenchOutput(dir: string): Promise<BenchOutput> {
  const resultsPath = join(dir, "results.json"), manifestPath = join(dir, SHARD_MANIFEST);
  const [results, manifest] = await Promise.all([readOptional(resultsPath), readOptional(manifestPath)]);
  if (results === undefined && manifest === undefined) {
    throw new RangeError(
      `Cannot merge "${dir}": it has neither results.json nor ${SHARD_MANIFEST}; pass the --out directories ` +
        `of \`deno task bench\` runs`,
    );
  }
  return {
    dir,
    ...results === undefined ? {} : { results: parseResultsFile(results, resultsPath) },
    ...manifest === undefined ? {} : { manifest: parseManifest(manifest, manifestPath) },
  };
}

/** A record and the file it came from. */
interface Sourced {
  record: unknown;
  from: string;
}

const idOf = (record: unknown) => (record as { id?: unknown }).id;
const presetOf = (record: unknown) => (record as { provenance?: Provenance }).provenance?.preset;

/** One suite's records from every directory, keyed by run id, in plan order (unplanned ones first). */
function mergeRuns(suite: string, sources: Sourced[], order: readonly string[]) {
  const byId = new Map<string, Sourced>();
  let duplicates = 0;
  for (const s of sources) {
    const id = idOf(s.record) as string;
    const earlier = byId.get(id);
    if (!earlier) byId.set(id, s);
    else if (isDeepStrictEqual(earlier.record, s.record)) duplicates++;
    else {
      throw new RangeError(
        `Cannot merge run "${id}" of suite "${suite}": ${earlier.from} and ${s.from} hold different results ` +
          `for it; drop one of the two directories, or re-run that run on one shard only`,
      );
    }
  }
  const position = new Map(order.map((id, i) => [id, i]));
  const records = [...byId.values()].map((s) => s.record);
  records.sort((a, b) => (position.get(idOf(a) as string) ?? -1) - (position.get(idOf(b) as string) ?? -1));
  return { records, duplicates };
}

/** A suite without run ids: from one directory, or from several that hold the very same records. */
function mergeWhole(suite: string, bySource: Map<string, unknown[]>) {
  const [[from, records], ...rest] = [...bySource] as [[string, unknown[]], ...[string, unknown[]][]];
  const other = rest.find(([, r]) => !isDeepStrictEqual(r, records));
  if (other) {
    throw new RangeError(
      `Cannot merge suite "${suite}": ${from} and ${
        other[0]
      } both hold records of it, which have no run ids ` +
        `to tell them apart; drop one of the two directories`,
    );
  }
  return { records, duplicates: rest.reduce((n, [, r]) => n + r.length, 0) };
}

/** Throws unless every record of the suite comes from one preset (or mixing is allowed). */
function checkPresets(suite: string, sources: Sourced[], allowMixed: boolean): void {
  const first = new Map<string, string>();
  for (const s of sources) {
    const preset = presetOf(s.record) ?? "(none)";
    if (!first.has(preset)) first.set(preset, s.from);
  }
  if (first.size > 1 && !allowMixed) {
    const list = [...first].map(([p, from]) => `"${p}" (${from})`).join(", ");
    throw new RangeError(
      `Cannot merge suite "${suite}": its records come from presets ${list}; merge one preset at a time, ` +
        `or pass --allow-mixed-presets`,
    );
  }
}

/** One line about a directory: which shard, how many records of each suite, where they were measured. */
function describe(output: BenchOutput): string {
  const shard = output.manifest?.shard;
  const where = shard ? `shard ${shard.index}/${shard.count}` : "unsharded";
  if (!output.results) return `${output.dir}: ${where}, did not finish (no results.json)`;
  const counts = Object.entries(output.results.suites).map(([name, r]) => `${name} ${r.length}`);
  const env = output.results.environment;
  const measured = `adapter ${adapterName(env.adapter)}, commit ${env.gitCommit}, Deno ${env.deno.deno}`;
  return `${output.dir}: ${where}, ${counts.join(", ") || "no records"}; ${measured}`;
}

/** Planned work with no record: shards that left no output, then runs and whole suites, once each. */
function missingWork(outputs: readonly BenchOutput[], suites: Record<string, unknown[]>): string[] {
  const manifests = outputs.flatMap((o) => o.manifest ?? []);
  const counts = new Set(manifests.map((m) => m.shard.count));
  if (counts.size > 1) {
    throw new RangeError(
      `Cannot merge shards of ${[...counts].join(" and ")} shards: merge the outputs of one sharded run`,
    );
  }
  const count = [...counts][0];
  if (count === undefined) return [];
  const present = new Set(manifests.map((m) => m.shard.index));
  const absent = Array.from({ length: count }, (_, i) => i + 1).filter((i) => !present.has(i));
  // Every shard plans every run, so the same line comes from each manifest: a set keeps one, in order.
  const missing = new Set<string>();
  const recorded = new Map(Object.entries(suites).map(([name, r]) => [name, new Set(r.map(idOf))]));
  for (const m of manifests) {
    for (const [suite, planned] of Object.entries(m.runs)) {
      for (const id of planned.filter((id) => !recorded.get(suite)?.has(id))) {
        missing.add(`${suite}: run "${id}" has no record (shard ${shardOf(id, count)}/${count})`);
      }
    }
    for (const suite of m.whole.filter((s) => !suites[s])) {
      missing.add(`${suite}: no records (runs whole on shard ${shardOf(suite, count)}/${count})`);
    }
  }
  return [...absent.map((i) => `shard ${i}/${count}: left no output`), ...missing];
}

/** One suite merged from every finished output that has it, in the order of the shards' plan. */
function mergeSuite(suite: string, outputs: readonly BenchOutput[], allowMixedPresets: boolean) {
  const bySource = new Map<string, unknown[]>();
  for (const o of outputs) {
    const records = o.results?.suites[suite];
    if (records) bySource.set(join(o.dir, "results.json"), records);
  }
  const sources = [...bySource].flatMap(([from, records]) => records.map((record) => ({ record, from })));
  checkPresets(suite, sources, allowMixedPresets);
  const order = [...new Set(outputs.flatMap((o) => o.manifest?.runs[suite] ?? []))];
  return sources.every((s) => typeof idOf(s.record) === "string")
    ? mergeRuns(suite, sources, order)
    : mergeWhole(suite, bySource);
}

/**
 * Merges bench outputs, in the order given.
 *
 * @throws {RangeError} on a run id with different results in two directories, a suite without run ids in
 * two, a suite of mixed presets (unless allowed), or shards of different counts.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { recordEnvironment } from "./env.ts";
 *
 * const environment = await recordEnvironment({
 *   vendor: "mesa",
 *   architecture: "",
 *   description: "llvmpipe",
 *   isFallbackAdapter: true,
 * });
 * // Two unsharded bench outputs, each with one suite's records.
 * const dirs = [await Deno.makeTempDir(), await Deno.makeTempDir()];
 * for (const [i, dir] of dirs.entries()) {
 *   const suites = { [`suite${i}`]: [{ name: "matmul", bestMs: 1 + i }] };
 *   await Deno.writeTextFile(`${dir}/results.json`, JSON.stringify({ schemaVersion: 1, environment, suites }));
 * }
 * const outputs = await Promise.all(dirs.map(readBenchOutput));
 * const { results, missing } = mergeBenchOutputs(outputs);
 * assert.deepEqual(Object.keys(results.suites), ["suite0", "suite1"]);
 * assert.deepEqual(missing, []);
 * for (const dir of dirs) await Deno.remove(dir, { recursive: true });
 * ```
 */
export function mergeBenchOutputs(
  outputs: readonly BenchOutput[],
  options: MergeOptions = {},
): MergedResults {
  const first = outputs.find((o) => o.results)?.results;
  if (!first) throw new RangeError(`Cannot merge: none of ${outputs.length} directories has a results.json`);
  const suites: Record<string, unknown[]> = {};
  let duplicates = 0;
  const names = [...new Set(outputs.flatMap((o) => Object.keys(o.results?.suites ?? {})))];
  for (const suite of names) {
    const merged = mergeSuite(suite, outputs, options.allowMixedPresets ?? false);
    suites[suite] = merged.records;
    duplicates += merged.duplicates;
  }
  const total = Object.values(suites).reduce((n, r) => n + r.length, 0);
  const finished = outputs.filter((o) => o.results).length;
  const deferred = outputs.flatMap((o) =>
    Object.entries(o.manifest?.deferred ?? {}).flatMap(([suite, lines]) => lines.map((l) => `${suite}: ${l}`))
  );
  return {
    results: { ...first, suites },
    merged: [
      ...outputs.map(describe),
      `merged ${total} records of ${names.length} suites from ${finished} directories` +
      (duplicates ? `; ${duplicates} identical duplicates kept once` : ""),
    ],
    missing: missingWork(outputs, suites),
    deferred: [...new Set(deferred)],
  };
}

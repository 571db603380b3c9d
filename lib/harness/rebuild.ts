/**
 * Rebuilding `results.json` from the journals when it is lost or corrupt: `results.jsonl` holds every
 * record of every finished suite (`{ date, suite, record }`, `date` being the bench run's), so each suite's
 * records of its latest bench run come back; a run-matrix suite adds the records of its own journals by run
 * id, runs that finished after the last complete suite included. The environment is rebuilt from the newest
 * record's provenance.
 *
 * @module
 */

import type { JournalEntry, Provenance } from "../records.ts";
import type { Environment } from "./env.ts";
import { readResults, writeOutputFile } from "./results.ts";
import { RESULTS_SCHEMA_VERSION, type ResultsFile } from "./suite.ts";

function isEntry(value: unknown): value is JournalEntry {
  const e = value as Partial<JournalEntry> | null;
  return typeof e === "object" && e !== null && typeof e.date === "string" && typeof e.suite === "string" &&
    typeof e.record === "object" && e.record !== null;
}

/**
 * The records of each suite's latest bench run in a `results.jsonl` (a line that is not an entry is skipped
 * with a warning naming it).
 */
export async function latestSuiteRecords(
  path: string,
  warn: (message: string) => void = console.warn,
): Promise<Record<string, unknown[]>> {
  const accept = { test: isEntry, kind: "a results entry (date, suite and record)" };
  const entries = await readResults<JournalEntry>(path, { warn, accept });
  const latest = new Map<string, string>();
  for (const e of entries) if (e.date >= (latest.get(e.suite) ?? "")) latest.set(e.suite, e.date);
  const suites: Record<string, unknown[]> = {};
  for (const e of entries.filter((e) => e.date === latest.get(e.suite))) {
    (suites[e.suite] ??= []).push(e.record);
  }
  return suites;
}

/** Run-matrix records from several sources, one per run id in first-seen order; a later source's wins. */
export function mergeById(...sources: readonly (readonly unknown[])[]): unknown[] {
  const byId = new Map<string, unknown>();
  for (const record of sources.flat()) byId.set((record as { id: string }).id, record);
  return [...byId.values()];
}

/**
 * The environment of rebuilt results: adapter, commit, Deno version and date of the newest record's
 * provenance; OS, architecture and CPU count of this machine (the provenance does not hold them).
 *
 * @throws {RangeError} when no record has a provenance.
 */
export function environmentOfRecords(suites: Record<string, unknown[]>, source: string): Environment {
  const provenances = Object.values(suites).flat()
    .map((r) => (r as { provenance?: Provenance }).provenance)
    .filter((p): p is Provenance => typeof p?.date === "string");
  const newest = provenances.sort((a, b) => a.date.localeCompare(b.date)).at(-1);
  if (!newest) {
    throw new RangeError(
      `Cannot rebuild the results from "${source}": it holds no record with a provenance; ` +
        `run \`deno task bench\` to measure them again`,
    );
  }
  return {
    adapter: {
      vendor: "",
      architecture: "",
      description: newest.adapter,
      isFallbackAdapter: newest.softwareAdapter,
    },
    deno: { deno: newest.deno, v8: "unknown", typescript: "unknown" },
    gitCommit: newest.commit,
    date: newest.date,
    os: Deno.build.os,
    arch: Deno.build.arch,
    cpuCount: navigator.hardwareConcurrency,
  };
}

/** A results file of `suites`, with the environment rebuilt from their records. */
export function rebuiltResults(suites: Record<string, unknown[]>, source: string): ResultsFile {
  return { schemaVersion: RESULTS_SCHEMA_VERSION, environment: environmentOfRecords(suites, source), suites };
}

/**
 * Copies `path` to `<path>.bak` (atomically) before a rebuild replaces it; nothing to keep when it does not
 * exist.
 *
 * @throws {OutputWriteError} when the copy cannot be written (disk full, read-only folder).
 */
export async function keepBackup(path: string): Promise<void> {
  const bytes = await Deno.readFile(path).catch((error) => {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  });
  if (bytes !== undefined) await writeOutputFile(`${path}.bak`, bytes);
}

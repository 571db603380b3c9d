/**
 * Running a list of benchmark suites: progress lines with elapsed time, every record appended to a
 * JSON-lines journal as soon as its suite finishes, each suite's tables printed, and the whole run
 * returned as a {@link ResultsFile}.
 *
 * @module
 */

import { provenanceOf } from "../experiment/matrix.ts";
import type { Gpu } from "../gpu/device.ts";
import { formatTextSection } from "../report/text.ts";
import type { JournalEntry } from "../records.ts";
import type { Environment } from "./env.ts";
import { appendResult, writeOutputFile } from "./results.ts";
import { type ShardManifestWriter, shardOf } from "./shard.ts";
import { type BenchSuite, RESULTS_SCHEMA_VERSION, type ResultsFile } from "./suite.ts";
import type { TimingOptions } from "./timing.ts";

/** Options of {@link runSuites}. */
export interface RunSuitesOptions {
  /** Recorded with every result. */
  environment: Environment;
  /** How suites time their work. */
  timing: TimingOptions;
  /** Smaller sizes, for a smoke run. */
  quick: boolean;
  /** JSON-lines file each record is appended to (`{ date, suite, record }`); none when omitted. */
  journal?: string;
  /** Receives progress lines and tables; `console.log` by default. */
  log?: (line: string) => void;
  /** Run only this shard's part of every suite, listing it in the shard's manifest. */
  shard?: ShardManifestWriter;
}

/** Validates every suite's plan ({@link BenchSuite.validate}), in order; the first bad plan throws. */
export async function validateSuites(suites: readonly BenchSuite[]): Promise<void> {
  for (const suite of suites) await suite.validate?.();
}

/**
 * Runs `suites` in order on `gpu`, after validating every suite's plan, so a bad plan of a later suite
 * stops the bench before the first suite runs. With a shard, a run-matrix suite runs its shard's runs, and
 * any other suite runs whole on the shard its name belongs to and is left out of the others' results.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { requestGpu } from "../gpu/device.ts";
 * import { recordEnvironment } from "./env.ts";
 * import type { BenchSuite } from "./suite.ts";
 *
 * const gpu = await requestGpu();
 * const environment = await recordEnvironment(gpu.adapter);
 * const demo: BenchSuite<{ ms: number }> = {
 *   name: "demo",
 *   description: "one made-up record",
 *   run: () => Promise.resolve([{ ms: 1.25 }]),
 *   section: () => ({ id: "demo", title: "Demo", intro: "", tables: [], charts: [] }),
 * };
 * const results = await runSuites(gpu, [demo], { environment, timing: {}, quick: true, log: () => {} });
 * assert.equal(results.suites.demo?.length, 1); // the record, stamped with its provenance
 * gpu.device.destroy();
 * ```
 */
export async function runSuites(
  gpu: Gpu,
  suites: readonly BenchSuite[],
  options: RunSuitesOptions,
): Promise<ResultsFile> {
  await validateSuites(suites);
  const log = options.log ?? console.log;
  const start = performance.now();
  const progress = (message: string) =>
    log(`[${((performance.now() - start) / 1000).toFixed(1)} s] ${message}`);
  const results: ResultsFile = {
    schemaVersion: RESULTS_SCHEMA_VERSION,
    environment: options.environment,
    suites: {},
  };
  const shard = options.shard;
  for (const [index, suite] of suites.entries()) {
    progress(`Suite ${index + 1}/${suites.length} "${suite.name}": ${suite.description}`);
    if (shard && !suite.sharded) {
      await shard.planWhole(suite.name);
      const home = shardOf(suite.name, shard.shard.count);
      if (home !== shard.shard.index) {
        progress(`"${suite.name}" runs whole on shard ${home}/${shard.shard.count}: skipped on this one`);
        continue;
      }
    }
    const ctx = {
      gpu,
      environment: options.environment,
      timing: options.timing,
      quick: options.quick,
      progress,
      ...shard && suite.sharded ? { shard: shard.forSuite(suite.name) } : {},
    };
    // Every record carries where it was measured; records a suite resumed keep their own.
    const preset = options.quick ? "quick" : "full";
    const records = (await suite.run(ctx)).map((r) =>
      hasProvenance(r) ? r : { ...r as object, provenance: provenanceOf(options.environment, preset) }
    );
    results.suites[suite.name] = records;
    if (options.journal) {
      for (const record of records) {
        const entry: JournalEntry = { date: options.environment.date, suite: suite.name, record };
        await appendResult(options.journal, entry);
      }
    }
    log(`\n${formatTextSection(suite.section(records, options.environment))}\n`);
  }
  progress("Done");
  return results;
}

function hasProvenance(record: unknown): boolean {
  return typeof (record as { provenance?: unknown })?.provenance === "object";
}

/** Writes `results` as pretty JSON to `path`, atomically (the previous file survives a failed write). */
export async function writeResultsFile(path: string, results: ResultsFile): Promise<void> {
  await writeOutputFile(path, new TextEncoder().encode(`${JSON.stringify(results, null, 2)}\n`));
}

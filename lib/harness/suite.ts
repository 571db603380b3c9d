/**
 * Benchmark suites and the results file. A suite runs on the GPU and returns JSON records, and turns
 * records (fresh, or read back from `results.json`) into a report section; the bench is a list of
 * suites, so a new benchmark is one more entry.
 *
 * @module
 */

import { withProvenance } from "../report/provenance.ts";
import type { Gpu } from "../gpu/device.ts";
import type { ReportSection } from "../report/model.ts";
import type { Environment } from "./env.ts";
import type { ShardContext } from "./shard.ts";
import type { TimingOptions } from "./timing.ts";

/** What a suite gets to run with. */
export interface BenchContext {
  /** The device. */
  gpu: Gpu;
  /** Where this run happens (recorded with the results). */
  environment: Environment;
  /** How to time work (`measure` options). */
  timing: TimingOptions;
  /** Smaller sizes and fewer trials, for a smoke run. */
  quick: boolean;
  /** Prints one progress line. */
  progress(message: string): void;
  /** The shard of a sharded bench, for a suite that splits its own runs ({@link BenchSuite.sharded}). */
  shard?: ShardContext;
}

/** A benchmark suite: records come out of `run`, a report section out of `section`. */
export interface BenchSuite<R = unknown> {
  /** Key in `results.json` and in `--suite`; lower-case. */
  name: string;
  /** One line saying what the suite measures. */
  description: string;
  /**
   * True for a run-matrix suite, which splits its runs by `ctx.shard` itself; a sharded bench runs any other
   * suite whole, on the shard its name belongs to.
   */
  sharded?: boolean;
  /**
   * Checks the suite's whole plan (its options, the files it will read) without a GPU; the bench calls it
   * for every selected suite before the first one runs, so a bad plan stops it before any work.
   */
  validate?(): Promise<void>;
  /** Runs the benchmarks and returns one JSON-serializable record per case. */
  run(ctx: BenchContext): Promise<R[]>;
  /** The report section of these records; pure. */
  section(records: readonly R[], environment: Environment): ReportSection;
}

/** Version of the `results.json` layout; bump when a field changes meaning. */
export const RESULTS_SCHEMA_VERSION = 1;

/** `results.json`: every record of one bench run, by suite, with its environment. */
export interface ResultsFile {
  /** {@link RESULTS_SCHEMA_VERSION} at the time of writing. */
  schemaVersion: number;
  /** Where the results were measured. */
  environment: Environment;
  /** Records by suite name. */
  suites: Record<string, unknown[]>;
}

/**
 * Parses and checks a `results.json` text.
 *
 * @param fix what the error tells the user to do; by default, to run the bench again.
 * @throws {SyntaxError} when the text is not JSON or not a results file of this schema version.
 */
export function parseResultsFile(
  text: string,
  path: string,
  fix = "run `deno task bench` to write it again",
): ResultsFile {
  let data: Partial<ResultsFile>;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new SyntaxError(
      `Cannot read results "${path}": ${(error as Error).message}; ${fix}`,
    );
  }
  if (data?.schemaVersion !== RESULTS_SCHEMA_VERSION || !data.environment || !data.suites) {
    throw new SyntaxError(
      `Cannot read results "${path}": expected schemaVersion ${RESULTS_SCHEMA_VERSION} with environment and ` +
        `suites, got schemaVersion ${data?.schemaVersion}; ${fix}`,
    );
  }
  return data as ResultsFile;
}

/**
 * The sections of the suites that have records in `results`, in suite order, each chart stamped with its
 * records' provenance (adapter, commits, Deno, dates, preset).
 *
 * @throws {RangeError} naming unknown suites found in the file.
 */
export function sectionsOf(results: ResultsFile, suites: readonly BenchSuite[]): ReportSection[] {
  const known = new Set(suites.map((s) => s.name));
  const unknown = Object.keys(results.suites).filter((name) => !known.has(name));
  if (unknown.length > 0) {
    throw new RangeError(
      `Cannot report suites ${unknown.map((n) => `"${n}"`).join(", ")}: not in the bench's suite list; ` +
        `update benchmarks/run.ts or re-run \`deno task bench\``,
    );
  }
  return suites
    .filter((suite) => results.suites[suite.name] !== undefined)
    .map((suite) => {
      const records = results.suites[suite.name]!;
      return withProvenance(suite.section(records, results.environment), records);
    });
}

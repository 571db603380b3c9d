/**
 * `deno task bench`: acquires the GPU, records the environment, runs every suite with progress lines
 * and tables on stdout, and writes `<out>/results.json`, `<out>/results.jsonl` (appended journal),
 * `<out>/index.html` and `<out>/specs/*.vl.json`.
 *
 * A new benchmark is one more entry in {@link SUITES}.
 *
 * @module
 */

import { join } from "node:path";
import { parseArgs } from "node:util";
import { GpuUnavailableError, requestGpu } from "../lib/gpu/device.ts";
import { describeAdapter, recordEnvironment } from "../lib/harness/env.ts";
import { runSuites, writeResultsFile } from "../lib/harness/runner.ts";
import { type BenchSuite, sectionsOf } from "../lib/harness/suite.ts";
import { DEFAULT_TIMING } from "../lib/harness/timing.ts";
import { writeReport } from "../lib/report/write.ts";
import { kernelSuite } from "./kernels.ts";

/** Every suite the bench runs, in order; `benchmarks/report.ts` renders results with the same list. */
export const SUITES: readonly BenchSuite[] = [kernelSuite];

/** Title of the HTML report. */
export const REPORT_TITLE = "MoRA on WebGPU: benchmark report";

const USAGE = `Usage: deno task bench [--out DIR] [--suite NAME]... [--quick]

  --out DIR      where results and the report go (default: reports)
  --suite NAME   run only this suite (repeatable): ${SUITES.map((s) => s.name).join(", ")}
  --quick        smaller sizes and shorter timing, for a smoke run
  --help         show this text`;

function parseFlags() {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      out: { type: "string", default: "reports" },
      suite: { type: "string", multiple: true },
      quick: { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  });
  return values;
}

function selectSuites(names: string[] | undefined): readonly BenchSuite[] {
  if (!names) return SUITES;
  return names.map((name) => {
    const suite = SUITES.find((s) => s.name === name);
    if (!suite) {
      throw new RangeError(
        `Cannot run suite "${name}": not found; pick one of ${SUITES.map((s) => s.name).join(", ")}`,
      );
    }
    return suite;
  });
}

async function main(): Promise<void> {
  const flags = parseFlags();
  if (flags.help) return console.log(USAGE);
  const suites = selectSuites(flags.suite);
  let gpu;
  try {
    gpu = await requestGpu();
  } catch (error) {
    if (!(error instanceof GpuUnavailableError)) throw error;
    console.error(error.message);
    Deno.exit(1);
  }
  const environment = await recordEnvironment(gpu.adapter);
  console.log(`Adapter: ${describeAdapter(gpu.adapter)}`);
  console.log(`Deno ${environment.deno.deno}, commit ${environment.gitCommit}, ${environment.cpuCount} CPUs`);
  await Deno.mkdir(flags.out, { recursive: true });
  const timing = flags.quick ? { targetMs: 50, trials: 2 } : DEFAULT_TIMING;
  const results = await runSuites(gpu, suites, {
    environment,
    timing,
    quick: flags.quick,
    journal: join(flags.out, "results.jsonl"),
  });
  await writeResultsFile(join(flags.out, "results.json"), results);
  const report = await writeReport(flags.out, {
    title: REPORT_TITLE,
    environment,
    sections: sectionsOf(results, SUITES),
  });
  console.log(`Wrote ${join(flags.out, "results.json")}, ${report.html} and ${report.specs.length} specs`);
  gpu.device.destroy();
}

if (import.meta.main) await main();

/**
 * `deno task report`: re-renders `<out>/index.html` and `<out>/specs/` from `<out>/results.json`
 * without running anything.
 *
 * @module
 */

import { join } from "node:path";
import { parseArgs } from "node:util";
import { parseResultsFile } from "../lib/harness/suite.ts";
import { writeReport } from "../lib/report/write.ts";
import { benchReport, benchSuites } from "./run.ts";

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: { out: { type: "string", default: "reports" }, help: { type: "boolean", default: false } },
  });
  if (values.help) {
    return console.log("Usage: deno task report [--out DIR]   (reads DIR/results.json, default reports)");
  }
  const path = join(values.out, "results.json");
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    console.error(`Cannot find "${path}": run \`deno task bench\` first, or pass --out DIR`);
    Deno.exit(1);
  }
  const results = parseResultsFile(text, path);
  const suites = benchSuites({ preset: "quick", outDir: values.out });
  const written = await writeReport(values.out, benchReport(results, suites));
  console.log(`Wrote ${written.html} and ${written.specs.length} specs from ${path}`);
}

if (import.meta.main) await main();

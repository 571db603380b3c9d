/**
 * Writing a report to disk: `index.html` (self-contained) and `specs/<chart>.vl.json` (each Vega-Lite
 * spec with its data inline).
 *
 * @module
 */

import { join } from "node:path";
import { renderReportHtml } from "./html.ts";
import { type Report, validateReport } from "./model.ts";
import { renderChartSvgs } from "./vega.ts";

/** What {@link writeReport} wrote. */
export interface WrittenReport {
  /** Path of `index.html`. */
  html: string;
  /** Paths of the spec files, in chart order. */
  specs: string[];
}

/**
 * Renders every chart to SVG and writes `<outDir>/index.html` and `<outDir>/specs/<name>.vl.json`.
 *
 * @throws {RangeError} when section ids or chart names repeat.
 * @example
 * ```ts
 * const written = await writeReport("reports", report);
 * console.log(`Wrote ${written.html}`);
 * ```
 */
export async function writeReport(outDir: string, report: Report): Promise<WrittenReport> {
  validateReport(report);
  const svgs = await renderChartSvgs(report.sections);
  const specDir = join(outDir, "specs");
  await Deno.mkdir(specDir, { recursive: true });
  const specs: string[] = [];
  for (const chart of report.sections.flatMap((s) => s.charts)) {
    const path = join(specDir, `${chart.name}.vl.json`);
    await Deno.writeTextFile(path, `${JSON.stringify(chart.spec, null, 2)}\n`);
    specs.push(path);
  }
  const html = join(outDir, "index.html");
  await Deno.writeTextFile(html, renderReportHtml(report, svgs));
  return { html, specs };
}

/**
 * Writing a report to disk: `index.html` (self-contained) and `specs/<chart>.vl.json` (each Vega-Lite
 * spec with its data inline).
 *
 * @module
 */

import { join } from "node:path";
import { writeFileAtomic } from "../io/safetensors.ts";
import { renderReportHtml } from "./html.ts";
import { type Report, validateReport } from "./model.ts";
import { renderChartSvgs } from "./vega.ts";

const encoder = new TextEncoder();

/** What {@link writeReport} wrote. */
export interface WrittenReport {
  /** Path of `index.html`. */
  html: string;
  /** Paths of the spec files, in chart order. */
  specs: string[];
}

/**
 * Renders every chart to SVG and writes `<outDir>/index.html` and `<outDir>/specs/<name>.vl.json`, each
 * atomically.
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
    await writeFileAtomic(path, encoder.encode(`${JSON.stringify(chart.spec, null, 2)}\n`));
    specs.push(path);
  }
  const html = join(outDir, "index.html");
  await writeFileAtomic(html, encoder.encode(renderReportHtml(report, svgs)));
  return { html, specs };
}

/**
 * Writing a report to disk: `index.html` (self-contained), `specs/<chart>.vl.json` (each Vega-Lite
 * spec with its data inline) and `tables/<section>-<table>.csv` (each table's header and rows).
 *
 * @module
 */

import { stringify } from "csv-stringify/sync";
import { join } from "node:path";
import { writeOutputFile } from "../harness/results.ts";
import { renderReportHtml, reportTableFiles } from "./html.ts";
import { type Report, type ReportTable, validateReport } from "./model.ts";
import { renderChartSvgs } from "./vega.ts";

const encoder = new TextEncoder();

/** What {@link writeReport} wrote. */
export interface WrittenReport {
  /** Path of `index.html`. */
  html: string;
  /** Paths of the spec files, in chart order. */
  specs: string[];
  /** Paths of the CSV files, in table order (the environment and provenance tables first). */
  tables: string[];
}

/**
 * A table as CSV (RFC 4180 quoting by `csv-stringify`): the header row, then each row with numbers at full
 * precision and empty cells empty.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.equal(tableCsv({ columns: ["method", "ms"], rows: [["LoRA", 1.25]] }), "method,ms\nLoRA,1.25\n");
 * ```
 */
export function tableCsv(table: ReportTable): string {
  return stringify([table.columns, ...table.rows.map((row) => row.map((cell) => cell ?? ""))]);
}

/**
 * Renders every chart to SVG and writes `<outDir>/index.html`, `<outDir>/specs/<name>.vl.json` and
 * `<outDir>/tables/<section>-<table>.csv`, each atomically.
 *
 * @throws {RangeError} when section ids, table ids or chart names repeat.
 * @throws {OutputWriteError} when a file cannot be written (disk full, read-only folder).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { join } from "node:path";
 * import { recordEnvironment } from "../harness/env.ts";
 *
 * const environment = await recordEnvironment({
 *   vendor: "mesa",
 *   architecture: "",
 *   description: "llvmpipe",
 *   isFallbackAdapter: true,
 * });
 * const table = { caption: "Matmul", columns: ["op", "ms"], rows: [["matmul", 1.25]] };
 * const section = { id: "kernels", title: "Kernels", intro: "", tables: [table], charts: [] };
 * const outDir = await Deno.makeTempDir();
 * const written = await writeReport(outDir, { title: "Demo", environment, sections: [section] });
 * assert.equal(written.html, join(outDir, "index.html"));
 * await Deno.remove(outDir, { recursive: true });
 * ```
 */
export async function writeReport(outDir: string, report: Report): Promise<WrittenReport> {
  validateReport(report);
  const svgs = await renderChartSvgs(report.sections);
  const specs: string[] = [];
  for (const chart of report.sections.flatMap((s) => s.charts)) {
    const path = join(outDir, "specs", `${chart.name}.vl.json`);
    await writeOutputFile(path, encoder.encode(`${JSON.stringify(chart.spec, null, 2)}\n`));
    specs.push(path);
  }
  const files = reportTableFiles(report);
  const tables: string[] = [];
  for (const file of [...files.header, ...files.sections.flat()]) {
    const path = join(outDir, file.path);
    await writeOutputFile(path, encoder.encode(tableCsv(file.table)));
    tables.push(path);
  }
  const html = join(outDir, "index.html");
  await writeOutputFile(html, encoder.encode(renderReportHtml(report, svgs)));
  return { html, specs, tables };
}

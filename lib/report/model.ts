/**
 * The report model: a report is a list of sections, each with an intro, tables and Vega-Lite charts.
 * Every benchmark suite turns its records into one {@link ReportSection}; adding a section to the
 * report is adding a suite, nothing here changes.
 *
 * @module
 */

import type { TopLevelSpec } from "vega-lite";
import type { Environment } from "../harness/env.ts";

/** A table cell: text, a number (formatted by {@link formatCell}), or empty. */
export type Cell = string | number | null;

/** A table with a header row; it is also written as CSV (see {@link sectionTableFiles}). */
export interface ReportTable {
  /** File-safe name, unique in its section, for the CSV file; derived from the caption when absent. */
  id?: string;
  /** Shown above the table; plain text. */
  caption?: string;
  /** Column headers; plain text. */
  columns: string[];
  /** Rows, each as long as `columns`. */
  rows: Cell[][];
}

/** A chart: a Vega-Lite spec with its data inline, rendered to SVG at build time. */
export interface ReportChart {
  /** File-safe name, unique in the report: the spec is written to `specs/<name>.vl.json`. */
  name: string;
  /** The Vega-Lite spec, data inline (`data.values`). */
  spec: TopLevelSpec;
}

/** One section of the report, e.g. the kernel benchmarks or Table 1. */
export interface ReportSection {
  /** Anchor id, unique in the report. */
  id: string;
  /** Heading; plain text. */
  title: string;
  /** Trusted HTML written by our own code; escape any interpolated value with `escapeHtml`. */
  intro: string;
  /** Tables, in order. */
  tables: ReportTable[];
  /** Charts, in order, after the tables. */
  charts: ReportChart[];
}

/** The whole report. */
export interface Report {
  /** Page title; plain text. */
  title: string;
  /** Where the run that wrote the report happened. */
  environment: Environment;
  /** Where each suite's records were measured, when they carry provenance. */
  provenance?: ReportTable;
  /** Sections, in order. */
  sections: ReportSection[];
}

/**
 * Formats a number for tables: 3 significant digits under 10, one decimal under 1000, whole above.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.equal(formatCell(5.734), "5.73");
 * assert.equal(formatCell(189.96), "190.0");
 * ```
 */
export function formatCell(cell: Cell): string {
  if (cell === null) return "";
  if (typeof cell === "string") return cell;
  if (!Number.isFinite(cell)) return String(cell);
  const abs = Math.abs(cell);
  if (Number.isInteger(cell) || abs >= 1000) return cell.toFixed(0);
  if (abs >= 10) return cell.toFixed(1);
  return cell.toPrecision(3);
}

/** The CSV prefix of the tables above the sections (environment, provenance). */
export const REPORT_TABLES = "report";

const FILE_SAFE = /^[a-z0-9][a-z0-9._-]*$/;

/** Throws when a section id, table id or chart name repeats, or one of them is not file-safe. */
export function validateReport(report: Report): void {
  const ids = new Set<string>();
  const names = new Set<string>();
  for (const section of report.sections) {
    if (ids.has(section.id)) throw new RangeError(`Cannot build report: section id "${section.id}" repeats`);
    if (!FILE_SAFE.test(section.id) || section.id === REPORT_TABLES) {
      throw new RangeError(
        `Cannot build report: section id "${section.id}" must be lower-case letters, digits, ".", "_" or "-", ` +
          `and not "${REPORT_TABLES}" (the prefix of the report's own tables)`,
      );
    }
    ids.add(section.id);
    const tableIds = new Set<string>();
    for (const table of section.tables) {
      if (table.id === undefined) continue;
      if (!FILE_SAFE.test(table.id) || tableIds.has(table.id)) {
        throw new RangeError(
          `Cannot build report: table id "${table.id}" of section "${section.id}" repeats or is not ` +
            `lower-case letters, digits, ".", "_" or "-"`,
        );
      }
      tableIds.add(table.id);
    }
    for (const chart of section.charts) {
      if (!FILE_SAFE.test(chart.name)) {
        throw new RangeError(
          `Cannot build report: chart name "${chart.name}" must be lower-case letters, digits, ".", "_" or "-"`,
        );
      }
      if (names.has(chart.name)) {
        throw new RangeError(`Cannot build report: chart name "${chart.name}" repeats`);
      }
      names.add(chart.name);
    }
  }
}

/** A table and the path of its CSV file, relative to the report folder. */
export interface TableFile {
  /** `tables/<prefix>-<table id or slug>.csv`. */
  path: string;
  /** The table. */
  table: ReportTable;
}

/**
 * A file-safe slug of `text`: lower-case ASCII letters and digits joined by "-", at most 48 characters,
 * cut at a word boundary.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.equal(slugify("Matmul (forward, float32)"), "matmul-forward-float32");
 * ```
 */
export function slugify(text: string): string {
  const words = text.normalize("NFKD").replace(/\p{M}/gu, "").toLowerCase().replace(/[^a-z0-9]+/g, " ").trim()
    .split(" ");
  let slug = "";
  for (const word of words) {
    const next = slug === "" ? word : `${slug}-${word}`;
    if (next.length > 48 && slug !== "") break;
    slug = next.slice(0, 48);
  }
  return slug;
}

/**
 * The CSV path of each table, `tables/<prefix>-<id>.csv`, in order: the table's `id`, else the slug of its
 * caption, else `table-<n>`; a repeated name gets `-2`, `-3`, … so every path is unique.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const tables = [{ caption: "Matmul (forward, float32)", columns: ["size", "ms"], rows: [] }];
 * assert.equal(sectionTableFiles("kernels", tables)[0]?.path, "tables/kernels-matmul-forward-float32.csv");
 * ```
 */
export function sectionTableFiles(prefix: string, tables: readonly ReportTable[]): TableFile[] {
  const seen = new Map<string, number>();
  return tables.map((table, index) => {
    const base = table.id ?? (slugify(table.caption ?? "") || `table-${index + 1}`);
    const count = (seen.get(base) ?? 0) + 1;
    seen.set(base, count);
    const name = count === 1 ? base : `${base}-${count}`;
    return { path: `tables/${prefix}-${name}.csv`, table };
  });
}

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

/** A table with a header row. */
export interface ReportTable {
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
 * formatCell(5.734); // "5.73"
 * formatCell(189.96); // "190.0"
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

/** Throws when a section id or chart name repeats, or a chart name is not file-safe. */
export function validateReport(report: Report): void {
  const ids = new Set<string>();
  const names = new Set<string>();
  for (const section of report.sections) {
    if (ids.has(section.id)) throw new RangeError(`Cannot build report: section id "${section.id}" repeats`);
    ids.add(section.id);
    for (const chart of section.charts) {
      if (!/^[a-z0-9][a-z0-9._-]*$/.test(chart.name)) {
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

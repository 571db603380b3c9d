/**
 * Report tables as plain text, for the bench's stdout: the same tables the HTML shows.
 *
 * @module
 */

import { formatCell, type ReportSection, type ReportTable } from "./model.ts";

/**
 * A table as aligned text columns (numbers right-aligned), caption first.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const text = formatTextTable({ columns: ["Op", "ms"], rows: [["matmul", 1.25]] });
 * assert.equal(text, "Op      ms\n------  ----\nmatmul  1.25");
 * ```
 */
export function formatTextTable(table: ReportTable): string {
  const cells = table.rows.map((row) => row.map(formatCell));
  const widths = table.columns.map((column, i) =>
    Math.max(column.length, ...cells.map((row) => (row[i] ?? "").length))
  );
  const line = (row: string[], numeric: boolean[]) =>
    row.map((cell, i) => numeric[i] ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)).join("  ")
      .trimEnd();
  const header = line(table.columns, table.columns.map(() => false));
  const rule = widths.map((w) => "-".repeat(w)).join("  ");
  const body = table.rows.map((row, r) => line(cells[r]!, row.map((cell) => typeof cell === "number")));
  return [...(table.caption ? [table.caption] : []), header, rule, ...body].join("\n");
}

/** Every table of a section as text, under its title. */
export function formatTextSection(section: ReportSection): string {
  return [`== ${section.title} ==`, ...section.tables.map(formatTextTable)].join("\n\n");
}

/**
 * Where each suite's records were measured: every record carries its own provenance (adapter, commit, Deno
 * version, date, preset), written when it was measured and never rewritten, so a report that mixes a fresh
 * suite with records kept from an earlier run says which is which. Pure.
 *
 * @module
 */

import type { Provenance } from "../experiment/matrix.ts";
import type { ReportTable } from "./model.ts";

/** One row per suite and distinct (commit, adapter, Deno, preset), with its record count and dates. */
export function provenanceTable(suites: Record<string, readonly unknown[]>): ReportTable {
  const rows: (string | number)[][] = [];
  for (const [suite, records] of Object.entries(suites)) {
    const groups = new Map<string, { p: Provenance; dates: string[] }>();
    for (const record of records) {
      const p = (record as { provenance?: Provenance }).provenance;
      if (!p) continue;
      const key = [p.commit, p.adapter, p.deno, p.preset].join("|");
      const g = groups.get(key) ?? { p, dates: [] };
      g.dates.push(p.date);
      groups.set(key, g);
    }
    for (const { p, dates } of groups.values()) {
      dates.sort();
      const span = dates[0] === dates.at(-1) ? dates[0]! : `${dates[0]} … ${dates.at(-1)}`;
      rows.push([suite, p.commit, p.adapter, p.deno, p.preset, dates.length, span]);
    }
    const without = records.filter((r) => !(r as { provenance?: unknown }).provenance).length;
    if (without > 0) rows.push([suite, "(not recorded)", "", "", "", without, ""]);
  }
  return {
    caption: "Where each suite's records were measured (each record keeps its own provenance)",
    columns: ["suite", "commit", "adapter", "Deno", "preset", "records", "measured"],
    rows,
  };
}

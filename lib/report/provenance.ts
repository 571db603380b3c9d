/**
 * Where each suite's records were measured: every record carries its own provenance (adapter, commit, Deno
 * version, date, preset), written when it was measured and never rewritten, so a report that mixes a fresh
 * suite with records kept from an earlier run says which is which. Pure.
 *
 * @module
 */

import type { Provenance } from "../records.ts";
import type { ReportChart, ReportSection, ReportTable } from "./model.ts";

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

/**
 * One line saying where records were measured: adapter, commits, Deno versions, dates and presets, each
 * distinct value once (e.g. `llvmpipe (LLVM 15.0.6, 256 bits) · commit 28292a7 · Deno 2.9.6 · 2026-12-01 ·
 * preset quick`); empty when no record carries a provenance.
 */
export function provenanceLine(records: readonly unknown[]): string {
  const all = records.map((r) => (r as { provenance?: Provenance }).provenance).filter((p) =>
    p !== undefined
  );
  if (all.length === 0) return "";
  const distinct = (f: (p: Provenance) => string) => [...new Set(all.map(f))].sort().join(", ");
  const adapters = distinct((p) => `${p.adapter}${p.softwareAdapter ? " (software)" : ""}`);
  const commits = distinct((p) => p.commit);
  return [
    adapters,
    `commit${commits.includes(",") ? "s" : ""} ${commits}`,
    `Deno ${distinct((p) => p.deno)}`,
    distinct((p) => p.date.slice(0, 10)),
    `preset ${distinct((p) => p.preset)}`,
  ].join(" · ");
}

/** The section with every chart stamped with its records' provenance: a subtitle and `usermeta.provenance`. */
export function withProvenance(section: ReportSection, records: readonly unknown[]): ReportSection {
  const line = provenanceLine(records);
  if (!line) return section;
  const charts = section.charts.map((chart) => {
    const { title, usermeta } = chart.spec;
    const text = typeof title === "object" && title !== null && !Array.isArray(title) ? title.text : title;
    const spec = {
      ...chart.spec,
      title: { text: text ?? "", subtitle: line },
      usermeta: { ...usermeta, provenance: line },
    };
    return { ...chart, spec } as ReportChart;
  });
  return { ...section, charts };
}

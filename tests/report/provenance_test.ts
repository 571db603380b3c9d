import assert from "node:assert/strict";
import type { Provenance } from "../../lib/records.ts";
import { provenanceLine, provenanceTable, withProvenance } from "../../lib/report/provenance.ts";
import type { ReportSection } from "../../lib/report/model.ts";

const at = (commit: string, date: string): { provenance: Provenance } => ({
  provenance: {
    adapter: "llvmpipe",
    softwareAdapter: true,
    commit,
    deno: "2.9.6",
    date,
    preset: "quick",
  },
});

Deno.test("every chart carries its records' provenance as a subtitle and in usermeta", () => {
  const records = [at("b2", "2026-12-02T01:00:00Z"), at("a1", "2026-12-01T23:00:00Z")];
  const line = provenanceLine(records);
  assert.equal(
    line,
    "llvmpipe (software) · commits a1, b2 · Deno 2.9.6 · 2026-12-01, 2026-12-02 · preset quick",
  );
  const section: ReportSection = {
    id: "s",
    title: "S",
    intro: "",
    tables: [],
    charts: [{ name: "c", spec: { title: "Loss", mark: "line" } as never }],
  };
  const spec = withProvenance(section, records).charts[0]!.spec as unknown as {
    title: { text: string; subtitle: string };
    usermeta: { provenance: string };
  };
  assert.deepEqual(spec.title, { text: "Loss", subtitle: line });
  assert.equal(spec.usermeta.provenance, line);
  assert.equal(withProvenance(section, [{}]), section, "records without provenance leave the charts alone");
});

Deno.test("the provenance table has a row per suite and distinct commit, and counts records without one", () => {
  const table = provenanceTable({ uuid: [at("a1", "d1"), at("a1", "d2"), at("b2", "d3")], kernels: [{}] });
  assert.deepEqual(table.rows.map((r) => [r[0], r[1], r[5]]), [["uuid", "a1", 2], ["uuid", "b2", 1], [
    "kernels",
    "(not recorded)",
    1,
  ]]);
});

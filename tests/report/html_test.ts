import assert from "node:assert/strict";
import type { Environment } from "../../lib/harness/env.ts";
import { escapeHtml, renderReportHtml, renderSectionHtml, renderTableHtml } from "../../lib/report/html.ts";
import { formatCell, type ReportSection } from "../../lib/report/model.ts";
import { formatTextTable } from "../../lib/report/text.ts";

const environment: Environment = {
  adapter: {
    vendor: "mesa",
    architecture: "",
    description: "llvmpipe <LLVM & co>",
    isFallbackAdapter: true,
  },
  deno: { deno: "2.9.6", v8: "14.0", typescript: "5.9" },
  gitCommit: "abc1234-dirty",
  date: "2025-01-01T00:00:00.000Z",
  os: "linux",
  arch: "x86_64",
  cpuCount: 2,
};

const section: ReportSection = {
  id: "demo",
  title: "Demo <section>",
  intro: "<p>Trusted <b>intro</b></p>",
  tables: [{
    caption: "A & B",
    columns: ["<name>", "ms"],
    rows: [["<script>alert(1)</script>", 1.23456], [null, 42]],
  }],
  charts: [{ name: "demo-chart", spec: { mark: "bar", data: { values: [] } } }],
};

Deno.test("escapeHtml escapes the five HTML metacharacters", () => {
  assert.equal(escapeHtml(`<a href="x">'&'</a>`), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
});

Deno.test("tables escape headers, captions and cells and right-align numbers", () => {
  const html = renderTableHtml(section.tables[0]!);
  assert.doesNotMatch(html, /<script>|<name>/);
  assert.match(html, /<caption>A &amp; B<\/caption>/);
  assert.match(html, /<th>&lt;name&gt;<\/th>/);
  assert.match(html, /<td class="num">1.23<\/td>/);
  assert.match(html, /<td><\/td>/);
});

Deno.test("sections keep the trusted intro, inline the SVG and link the spec", () => {
  const html = renderSectionHtml(section, new Map([["demo-chart", "<svg>chart</svg>"]]));
  assert.match(html, /<h2>Demo &lt;section&gt;<\/h2>/);
  assert.match(html, /<p>Trusted <b>intro<\/b><\/p>/);
  assert.match(html, /<figure><svg>chart<\/svg><figcaption><a href="specs\/demo-chart.vl.json">/);
  assert.throws(() => renderSectionHtml(section, new Map()), /chart "demo-chart" has no SVG/);
});

Deno.test("the page states the adapter, warns about software timings and has no scripts", () => {
  const html = renderReportHtml(
    { title: "T & R", environment, sections: [section] },
    new Map([["demo-chart", "<svg/>"]]),
  );
  assert.match(html, /<title>T &amp; R<\/title>/);
  assert.match(html, /llvmpipe &lt;LLVM &amp; co&gt;/);
  assert.match(html, /class="warning">Measured on a <b>software adapter<\/b> \(isFallbackAdapter\)/);
  assert.match(html, /abc1234-dirty/);
  assert.doesNotMatch(html, /<script|<link|src=/);
  const real = { ...environment, adapter: { ...environment.adapter, isFallbackAdapter: false } };
  assert.doesNotMatch(
    renderReportHtml({ title: "T", environment: real, sections: [] }, new Map()),
    /class="warning"/,
  );
});

Deno.test("numbers format to a readable precision", () => {
  assert.deepEqual([5.734, 189.96, 1234.5, 0.012345, 7, null].map(formatCell), [
    "5.73",
    "190.0",
    "1235",
    "0.0123",
    "7",
    "",
  ]);
});

Deno.test("text tables align columns and right-align numbers", () => {
  const text = formatTextTable({
    caption: "Cap",
    columns: ["Op", "ms"],
    rows: [["matmul", 1.5], ["rms", 12.25]],
  });
  assert.equal(text, ["Cap", "Op      ms", "------  ----", "matmul  1.50", "rms     12.3"].join("\n"));
});

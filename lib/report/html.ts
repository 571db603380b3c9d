/**
 * Sections to HTML: one self-contained page with inline CSS and inline SVG charts, no scripts and no
 * network, so it opens offline. Pure functions; the SVGs are rendered beforehand (`renderSvg`).
 *
 * @module
 */

import { adapterName, type Environment } from "../harness/env.ts";
import {
  type Cell,
  formatCell,
  type Report,
  REPORT_TABLES,
  type ReportSection,
  type ReportTable,
  sectionTableFiles,
  type TableFile,
} from "./model.ts";

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/**
 * Escapes text for HTML content and attribute values.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.equal(escapeHtml('<b>"x" & y</b>'), "&lt;b&gt;&quot;x&quot; &amp; y&lt;/b&gt;");
 * ```
 */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/**
 * A table as HTML; every header and cell is escaped, numeric cells are right-aligned. With `csvPath`, a
 * link to the table's CSV file follows it.
 */
export function renderTableHtml(table: ReportTable, csvPath?: string): string {
  const caption = table.caption ? `<caption>${escapeHtml(table.caption)}</caption>` : "";
  const head = table.columns.map((c) => `<th>${escapeHtml(c)}</th>`).join("");
  const body = table.rows.map((row) => `<tr>${row.map(renderCell).join("")}</tr>`).join("\n");
  const link = csvPath === undefined ? "" : `\n<p class="data"><a href="${escapeHtml(csvPath)}">CSV</a></p>`;
  return `<table>${caption}<thead><tr>${head}</tr></thead>\n<tbody>\n${body}\n</tbody></table>${link}`;
}

const renderTableFile = (file: TableFile) => renderTableHtml(file.table, file.path);

/**
 * Every table of the page with its CSV path: the environment and provenance tables above the sections
 * (`tables/report-….csv`), then each section's (`tables/<section id>-….csv`).
 */
export function reportTableFiles(report: Report): { header: TableFile[]; sections: TableFile[][] } {
  const header = [environmentTable(report.environment), ...report.provenance ? [report.provenance] : []];
  return {
    header: sectionTableFiles(REPORT_TABLES, header),
    sections: report.sections.map((s) => sectionTableFiles(s.id, s.tables)),
  };
}

function renderCell(cell: Cell): string {
  const numeric = typeof cell === "number" ? ' class="num"' : "";
  return `<td${numeric}>${escapeHtml(formatCell(cell))}</td>`;
}

/**
 * A section as HTML: heading, intro, tables, each with a link to its CSV file, then each chart's SVG from
 * `svgs` (by chart name) with a link to its Vega-Lite spec.
 *
 * @throws {RangeError} when a chart has no SVG in `svgs`.
 */
export function renderSectionHtml(section: ReportSection, svgs: ReadonlyMap<string, string>): string {
  const charts = section.charts.map((chart) => {
    const svg = svgs.get(chart.name);
    if (svg === undefined) {
      throw new RangeError(
        `Cannot render section "${section.id}": chart "${chart.name}" has no SVG; render it`,
      );
    }
    const link = `<a href="specs/${escapeHtml(chart.name)}.vl.json">Vega-Lite spec</a>`;
    return `<figure>${svg}<figcaption>${link}</figcaption></figure>`;
  });
  return [
    `<section id="${escapeHtml(section.id)}">`,
    `<h2>${escapeHtml(section.title)}</h2>`,
    `<div class="intro">${section.intro}</div>`,
    ...sectionTableFiles(section.id, section.tables).map(renderTableFile),
    ...charts,
    `</section>`,
  ].join("\n");
}

/** The environment as a two-column table. */
export function environmentTable(env: Environment): ReportTable {
  return {
    caption: "Environment of the run that wrote this report",
    columns: ["Property", "Value"],
    rows: [
      ["Adapter", adapterName(env.adapter)],
      ["Adapter architecture", env.adapter.architecture || "(not reported)"],
      ["Fallback (software) adapter", env.adapter.isFallbackAdapter ? "yes" : "no"],
      ["Deno", `${env.deno.deno} (V8 ${env.deno.v8}, TypeScript ${env.deno.typescript})`],
      ["Git commit", env.gitCommit],
      ["Date", env.date],
      ["OS / arch", `${env.os} / ${env.arch}`],
      ["CPUs", env.cpuCount],
    ],
  };
}

const STYLE =
  `body{font:15px/1.45 system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0}caption{text-align:left;font-weight:600;padding:.3em 0}
th,td{border:1px solid #ccc;padding:.25em .6em}th{background:#f3f3f3}td.num{text-align:right}
.warning{background:#fff4d6;border:1px solid #e0b040;padding:.6em 1em}figure{margin:1em 0}
nav a{margin-right:1em}p.data{margin:-.6em 0 1em;font-size:.9em}`;

/**
 * The whole page: title, adapter banner (a warning for software adapters), environment, a table of
 * contents and every section.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { recordEnvironment } from "../harness/env.ts";
 * import type { Report } from "./model.ts";
 * import { renderChartSvgs } from "./vega.ts";
 *
 * const environment = await recordEnvironment({
 *   vendor: "mesa",
 *   architecture: "",
 *   description: "llvmpipe",
 *   isFallbackAdapter: true,
 * });
 * const table = { caption: "Matmul", columns: ["op", "ms"], rows: [["matmul", 1.25]] };
 * const section = { id: "kernels", title: "Kernels", intro: "<p>One table.</p>", tables: [table], charts: [] };
 * const report: Report = { title: "Demo", environment, sections: [section] };
 * const html = renderReportHtml(report, await renderChartSvgs(report.sections));
 * assert.ok(html.includes('href="#kernels"'));
 * ```
 */
export function renderReportHtml(report: Report, svgs: ReadonlyMap<string, string>): string {
  const env = report.environment;
  const tables = reportTableFiles(report);
  const nav = report.sections.map((s) => `<a href="#${escapeHtml(s.id)}">${escapeHtml(s.title)}</a>`);
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(report.title)}</title>
<style>${STYLE}</style></head>
<body>
<h1>${escapeHtml(report.title)}</h1>
${adapterBanner(env)}
${tables.header.map(renderTableFile).join("\n")}
<nav>${nav.join("")}</nav>
${report.sections.map((s) => renderSectionHtml(s, svgs)).join("\n")}
</body></html>
`;
}

function adapterBanner(env: Environment): string {
  const adapter = escapeHtml(adapterName(env.adapter));
  if (!env.adapter.isFallbackAdapter) return `<p>Measured on the WebGPU adapter <b>${adapter}</b>.</p>`;
  return `<p class="warning">Measured on a <b>software adapter</b> (isFallbackAdapter): <b>${adapter}</b>. ` +
    `Every timing here is a CPU timing: the WGSL kernels ran on ${env.cpuCount} CPU cores through a ` +
    `software Vulkan implementation (such as Mesa's lavapipe), not on a GPU.</p>`;
}

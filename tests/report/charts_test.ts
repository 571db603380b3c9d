import assert from "node:assert/strict";
import type { TopLevelSpec } from "vega-lite";
import { barChart, lineChart } from "../../lib/report/charts.ts";
import { compileSpec, renderSvg } from "../../lib/report/vega.ts";

const bars = barChart({
  title: "matmul",
  values: [
    { size: "256³", layout: "nt", gflops: 3.25 },
    { size: "256³", layout: "nn", gflops: 2.5 },
    { size: "512³", layout: "nt", gflops: 4.75 },
  ],
  category: { field: "size", title: "Size" },
  value: { field: "gflops", title: "GFLOP/s" },
  group: { field: "layout", title: "Layout" },
});

const horizontalLog = barChart({
  title: "references",
  values: [{ name: "OpenBLAS", gflops: 190 }, { name: "ours", gflops: 4.2 }],
  category: { field: "name", title: "Implementation" },
  value: { field: "gflops", title: "GFLOP/s", log: true },
  color: { field: "name", title: "Implementation" },
  horizontal: true,
});

const lines = lineChart({
  title: "loss",
  values: [
    { step: 1, loss: 2.5, method: "LoRA" },
    { step: 2, loss: 2.1, method: "LoRA" },
    { step: 1, loss: 2.4, method: "MoRA" },
    { step: 2, loss: 1.9, method: "MoRA" },
  ],
  x: { field: "step", title: "Step" },
  y: { field: "loss", title: "Loss" },
  series: { field: "method", title: "Method" },
});

Deno.test("spec builders compile to Vega without warnings", () => {
  for (const spec of [bars, horizontalLog, lines]) {
    const vg = compileSpec(spec);
    assert.ok((vg.marks ?? []).length > 0, "compiled spec has marks");
  }
});

Deno.test("grouped bars offset and color by the group field; horizontal puts the category on y", () => {
  const encoding = (bars as { encoding: Record<string, { field?: string }> }).encoding;
  assert.deepEqual(encoding.xOffset?.field, "layout");
  assert.deepEqual(encoding.color?.field, "layout");
  const horizontal =
    (horizontalLog as { encoding: Record<string, { field?: string; scale?: unknown }> }).encoding;
  assert.deepEqual(horizontal.y?.field, "name");
  assert.deepEqual([horizontal.color?.field, horizontal.yOffset], ["name", undefined]);
  assert.deepEqual(horizontal.x?.scale, { type: "log", domainMin: 1 }); // the power of ten below 4.2
});

Deno.test("a spec Vega-Lite warns about or rejects is an error", () => {
  const values = [{ a: 1, b: "x" }];
  const dropped = {
    data: { values },
    mark: "bar",
    encoding: { x: { field: "a", type: "quantitative" }, shape: { field: "b", type: "nominal" } },
  } as TopLevelSpec;
  assert.throws(() => compileSpec(dropped), /Cannot use Vega-Lite spec "untitled": .*shape/);
  const invalid = {
    title: "bad type",
    data: { values },
    mark: "bar",
    encoding: { x: { field: "a", type: "not-a-type" } },
  } as unknown as TopLevelSpec;
  assert.throws(() => compileSpec(invalid), /Cannot use Vega-Lite spec "bad type": Invalid field type/);
});

Deno.test("charts render to SVG offline with their data labels", async () => {
  const svg = await renderSvg(bars);
  assert.ok(svg.startsWith("<svg"), svg.slice(0, 80));
  assert.match(svg, /256³/);
  assert.match(svg, /GFLOP\/s/);
  assert.match(await renderSvg(lines), /MoRA/);
  // Log-scale bars drawn from zero have no tick labels and zero width.
  const log = await renderSvg(horizontalLog);
  assert.match(log, />100</);
  const widths = [...log.matchAll(/roledescription="bar" d="M[\d.]+,[\d.]+h([\d.]+)/g)].map((m) =>
    Number(m[1])
  );
  assert.equal(widths.length, 2);
  assert.ok(widths.every((w) => w > 10), `bar widths ${widths}`);
});

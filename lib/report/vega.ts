/**
 * Vega-Lite specs to inline SVG at build time, with the npm packages `vega-lite` (compile) and `vega`
 * (a headless view, `renderer: "none"`). No browser, no scripts in the page, no network: the specs carry
 * their data inline.
 *
 * @module
 */

import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";
import type { ReportSection } from "./model.ts";

/**
 * Compiles a Vega-Lite spec to a Vega spec, strictly: a warning (say, an encoding Vega-Lite drops) is an
 * error, so a spec that compiles here draws what it says.
 *
 * @throws {Error} naming the problems when the spec is not valid Vega-Lite or draws with warnings.
 */
export function compileSpec(spec: TopLevelSpec): vega.Spec {
  const warnings: string[] = [];
  const base = vega.logger(vega.Warn);
  const logger: typeof base = {
    ...base,
    warn(...args: unknown[]) {
      warnings.push(args.join(" "));
      return logger;
    },
  };
  const title = typeof spec.title === "string" ? spec.title : "untitled";
  let compiled: vega.Spec | undefined;
  try {
    compiled = compile(spec, { logger }).spec;
  } catch (error) {
    warnings.push((error as Error).message);
  }
  if (warnings.length > 0 || !compiled) {
    throw new Error(`Cannot use Vega-Lite spec "${title}": ${warnings.join("; ")}; fix the spec`);
  }
  return compiled;
}

/**
 * Renders a Vega-Lite spec to an SVG string.
 *
 * @example
 * ```ts
 * const svg = await renderSvg({
 *   data: { values: [{ x: "a", y: 1 }] },
 *   mark: "bar",
 *   encoding: { x: { field: "x", type: "nominal" }, y: { field: "y", type: "quantitative" } },
 * });
 * if (!svg.startsWith("<svg")) throw new Error("expected an SVG document");
 * ```
 */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compileSpec(spec)), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Renders every chart of `sections`, keyed by chart name. */
export async function renderChartSvgs(sections: readonly ReportSection[]): Promise<Map<string, string>> {
  const svgs = new Map<string, string>();
  for (const section of sections) {
    for (const chart of section.charts) {
      try {
        svgs.set(chart.name, await renderSvg(chart.spec));
      } catch (error) {
        throw new Error(
          `Cannot render chart "${chart.name}" of section "${section.id}": ${(error as Error).message}`,
        );
      }
    }
  }
  return svgs;
}

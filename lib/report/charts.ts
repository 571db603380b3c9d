/**
 * Generic Vega-Lite spec builders (results → spec), pure functions with the data inline: grouped bars
 * for benchmark comparisons, lines for loss curves and sweeps. Sections build their charts from these.
 *
 * @module
 */

import type { TopLevelSpec } from "vega-lite";

/** The Vega-Lite schema every spec declares (for editors; rendering never fetches it). */
export const VEGA_LITE_SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json";

/** One row of chart data. */
export type Datum = Record<string, string | number | boolean | null>;

/** A field on an axis or the color channel. */
export interface Channel {
  /** Field name in the data. */
  field: string;
  /** Axis or legend title. */
  title: string;
  /** Vega-Lite measurement type; `nominal` for categories by default, `quantitative` for values. */
  type?: "nominal" | "ordinal" | "quantitative";
  /** Log scale (quantitative only). */
  log?: boolean;
  /** Category order; data order when omitted. */
  sort?: string[];
}

/** Options of {@link barChart}. */
export interface BarChartOptions {
  /** Chart title. */
  title: string;
  /** Data rows. */
  values: Datum[];
  /** The category axis. */
  category: Channel;
  /** The value axis (quantitative). */
  value: Channel;
  /** Bars grouped side by side and colored by this field. */
  group?: Channel;
  /** Bars colored by this field, not grouped (for a category that determines it). */
  color?: Channel;
  /** Bars run left to right (category on y); default false. */
  horizontal?: boolean;
  /** Plot width in pixels; default 480. */
  width?: number;
}

/**
 * Bars of `value` per `category`, grouped by `group` when given.
 *
 * @example GFLOP/s per size and layout
 * ```ts
 * const spec = barChart({
 *   title: "matmul",
 *   values: [{ size: "256³", layout: "nt", gflops: 3.2 }],
 *   category: { field: "size", title: "Size" },
 *   value: { field: "gflops", title: "GFLOP/s" },
 *   group: { field: "layout", title: "Layout" },
 * });
 * ```
 */
export function barChart(options: BarChartOptions): TopLevelSpec {
  // Labels read left to right (long implementation names on a horizontal chart get room).
  const category = { ...categoryEncoding(options.category), axis: { labelAngle: 0, labelLimit: 320 } };
  // No stacking: bars start at the axis start, which on a log scale is the domain minimum, not zero.
  const value = { ...valueEncoding(options.value, options.values), stack: null };
  const offset = options.horizontal ? "yOffset" : "xOffset";
  const group = options.group
    ? {
      color: categoryEncoding(options.group),
      [offset]: { field: options.group.field, sort: sortOf(options.group) },
    }
    : {};
  const color = options.color ? { color: categoryEncoding(options.color) } : {};
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: options.title,
    width: options.width ?? 480,
    data: { values: options.values },
    mark: { type: "bar", tooltip: true },
    encoding: options.horizontal
      ? { y: category, x: value, ...color, ...group }
      : { x: category, y: value, ...color, ...group },
  } as TopLevelSpec;
}

/** Options of {@link lineChart}. */
export interface LineChartOptions {
  /** Chart title. */
  title: string;
  /** Data rows. */
  values: Datum[];
  /** The x axis (quantitative by default, e.g. step or rank). */
  x: Channel;
  /** The y axis (quantitative, e.g. loss). */
  y: Channel;
  /** One line per value of this field. */
  series?: Channel;
  /** Draw a point at each datum; default true. */
  points?: boolean;
  /** Plot width in pixels; default 480. */
  width?: number;
  /** A shaded band around each line between two fields (e.g. mean ± sd over seeds). */
  band?: { lower: string; upper: string };
  /** Dashed horizontal reference lines at y values, each labelled (e.g. a baseline). */
  rules?: { y: number; label: string }[];
}

/**
 * Lines of `y` over `x`, one per `series`, e.g. loss curves or a rank sweep.
 *
 * @example Loss per step per method
 * ```ts
 * const spec = lineChart({
 *   title: "Training loss",
 *   values: [{ step: 1, loss: 2.3, method: "MoRA" }],
 *   x: { field: "step", title: "Step" },
 *   y: { field: "loss", title: "Loss" },
 *   series: { field: "method", title: "Method" },
 * });
 * ```
 */
export function lineChart(options: LineChartOptions): TopLevelSpec {
  const x = valueEncoding(options.x, options.values);
  const y = valueEncoding(options.y, options.values);
  const color = options.series ? { color: categoryEncoding(options.series) } : {};
  const line = {
    mark: { type: "line", point: options.points ?? true, tooltip: true },
    encoding: { x, y, ...color },
  };
  const layers: object[] = [line];
  if (options.band) {
    layers.unshift({
      mark: { type: "area", opacity: 0.2 },
      encoding: {
        x,
        y: { field: options.band.lower, type: "quantitative", title: options.y.title },
        y2: { field: options.band.upper },
        // The legend's swatches at full strength, not at the band's opacity.
        ...options.series
          ? { color: { ...categoryEncoding(options.series), legend: { symbolOpacity: 1 } } }
          : {},
      },
    });
  }
  for (const rule of options.rules ?? []) {
    layers.push(
      { mark: { type: "rule", strokeDash: [4, 4], color: "#555" }, encoding: { y: { datum: rule.y } } },
      {
        mark: { type: "text", align: "left", dx: 4, dy: -6, color: "#555" },
        encoding: { y: { datum: rule.y }, x: { value: 0 }, text: { value: rule.label } },
      },
    );
  }
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: options.title,
    width: options.width ?? 480,
    data: { values: options.values },
    ...(layers.length === 1 ? line : { layer: layers }),
  } as TopLevelSpec;
}

function sortOf(channel: Channel): string[] | null {
  return channel.sort ?? null;
}

function categoryEncoding(channel: Channel) {
  return {
    field: channel.field,
    title: channel.title,
    type: channel.type ?? "nominal",
    sort: sortOf(channel),
  };
}

/** A quantitative encoding; a log scale starts at the power of ten below the smallest positive value. */
function valueEncoding(channel: Channel, values: readonly Datum[]) {
  return {
    field: channel.field,
    title: channel.title,
    type: channel.type ?? "quantitative",
    ...(channel.log ? { scale: { type: "log", domainMin: logDomainMin(channel.field, values) } } : {}),
  };
}

/** Bars on a log scale start at the domain minimum; Vega's default (zero) draws none. */
function logDomainMin(field: string, values: readonly Datum[]): number {
  const positive = values.map((d) => d[field]).filter((v): v is number => typeof v === "number" && v > 0);
  return positive.length === 0 ? 1 : 10 ** Math.floor(Math.log10(Math.min(...positive)));
}

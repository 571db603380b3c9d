/**
 * The one way a kernel is specialized: {@link specialize} fills a WGSL template from `kernels/` into a
 * {@link KernelSource}, built once per specialization, which {@link makeDispatch} compiles (the pipeline
 * cache keys on the full source and the constants).
 *
 * A template is plain WGSL with, outside comment lines (those starting with `//` are kept as written):
 * - `{{NAME}}` placeholders, filled from `slots`. A value holding several lines (generated statements)
 *   has its continuation lines indented like the placeholder's line, so a placeholder stands where the
 *   statements go.
 * - Line repetition, for unrolling by counters given in `repeat` (say `{ r: 4 }`): `{+r: e +}` becomes
 *   `(e_0 + … + e_3)`, with `{r}` in e replaced by 0..3; then a line naming `{r}` is repeated once per
 *   value, in the order the counters are given.
 * - `override` constants: pure numbers the template declares (`override WG: u32 = 64;`), given in
 *   `constants`. They go to the pipeline, not into the text, so that one source serves every value of a
 *   size that only tunes (threads per workgroup, a flag); the specialization carries them.
 *
 * Shared pieces (kernels/workgroup_sum.wgsl, kernels/workgroup_argmax.wgsl, ...) are listed in the
 * template's `pieces`, put before it in order and filled with the same values. Every line of the filled
 * source remembers its template file and line, so compile errors cite them, and the specialization's
 * values are in its name (`matmul[layout=nt,…]`).
 *
 * @module
 */

import type { KernelSource } from "./kernel.ts";

/** A WGSL template in `kernels/`, and the shared pieces it needs. */
export interface KernelTemplate {
  /** Its path from the repository root, e.g. `"kernels/matmul.wgsl"`. */
  file: string;
  /** Its text, as imported. */
  code: string;
  /** Shared pieces put before it, in order, e.g. kernels/workgroup_sum.wgsl. */
  pieces?: readonly KernelTemplate[];
}

/** The values a template is filled with; see the module docs. */
export interface Specialization {
  /** Values of the `{{NAME}}` placeholders: WGSL text, or numbers written in decimal. */
  slots?: Readonly<Record<string, string | number>>;
  /** Counters of line repetition and their counts. */
  repeat?: Readonly<Record<string, number>>;
  /** Values of the template's `override` constants. */
  constants?: Readonly<Record<string, number>>;
}

/** Scalar values naming one specialization (what a generated source depends on). */
export type Variant = Readonly<Record<string, string | number | boolean>>;

const specialized = new Map<string, KernelSource>();

/**
 * The kernel of `template` filled with `spec`, built once per template and specialization.
 *
 * @throws {RangeError} when a placeholder has no value, or a slot or counter is not in the template.
 * @example
 * ```ts
 * const kernel = specialize(rmsnormTemplate, { constants: { WG: 64 } });
 * ```
 */
export function specialize(template: KernelTemplate, spec?: Specialization): KernelSource;
/**
 * The kernel of `template` filled with `generate(variant)`, generated once per template and variant:
 * for sources built by TypeScript (matmul's unrolled statements), `variant` says all they depend on.
 *
 * @throws {RangeError} when a placeholder has no value, or a slot or counter is not in the template.
 */
export function specialize<V extends Variant>(
  template: KernelTemplate,
  variant: V,
  generate: (variant: V) => Specialization,
): KernelSource;
export function specialize(
  template: KernelTemplate,
  variant: Variant | Specialization = {},
  generate?: (variant: Variant) => Specialization,
): KernelSource {
  const key = `${template.file}|${JSON.stringify(variant)}`;
  let kernel = specialized.get(key);
  if (!kernel) {
    const spec = generate ? generate(variant as Variant) : variant as Specialization;
    const label = generate ? variant as Variant : { ...spec.slots, ...spec.repeat, ...spec.constants };
    specialized.set(key, kernel = fill(template, spec, nameOf(template.file, label)));
  }
  return kernel;
}

/** `kernels/<stem>.wgsl` with the variant's values: `stem[k=v,…]`, or `stem` for none. */
function nameOf(file: string, variant: Variant): string {
  const stem = file.replace(/^.*\//, "").replace(/\.wgsl$/, "");
  const values = Object.entries(variant).map(([k, v]) => `${k}=${v}`);
  return values.length === 0 ? stem : `${stem}[${values.join(",")}]`;
}

/** Fills the pieces and the template, line by line, keeping each line's origin. */
function fill(template: KernelTemplate, spec: Specialization, name: string): KernelSource {
  const used = new Set<string>();
  const lines: string[] = [];
  const origins: string[] = [];
  for (const t of [...template.pieces ?? [], template]) {
    t.code.split("\n").forEach((line, i) => {
      const filled = fillLine(line, spec, used, `${t.file}:${i + 1}`);
      lines.push(...filled);
      origins.push(...filled.map(() => `${t.file}:${i + 1}`));
    });
  }
  for (const given of [...Object.keys(spec.slots ?? {}), ...Object.keys(spec.repeat ?? {})]) {
    if (!used.has(given)) {
      throw new RangeError(`Cannot specialize ${template.file}: "${given}" is not in it or its pieces`);
    }
  }
  const constants = spec.constants ? { ...spec.constants } : undefined;
  return { name, code: lines.join("\n"), template, origins, ...constants ? { constants } : {} };
}

/** One template line as filled lines: slots, then sums, then repetition per counter. */
function fillLine(line: string, spec: Specialization, used: Set<string>, at: string): string[] {
  if (line.trimStart().startsWith("//")) return [line];
  const indent = line.match(/^\s*/)![0];
  const filled = line.replace(/\{\{(\w+)\}\}/g, (_, slot: string) => {
    const value = spec.slots?.[slot];
    if (value === undefined) throw new RangeError(`Cannot specialize ${at}: pass a value for {{${slot}}}`);
    used.add(slot);
    return String(value).replaceAll("\n", `\n${indent}`);
  });
  const counters = Object.entries(spec.repeat ?? {});
  const summed = filled.replace(/\{\+(\w+): (.*?) \+\}/g, (whole, counter: string, term: string) => {
    const count = spec.repeat?.[counter];
    if (count === undefined) return whole;
    used.add(counter);
    return `(${repeatText(term, counter, count).join(" + ")})`;
  });
  return counters.reduce(
    (out, [counter, count]) =>
      out.flatMap((l) =>
        l.includes(`{${counter}}`) ? (used.add(counter), repeatText(l, counter, count)) : [l]
      ),
    summed.split("\n"),
  );
}

/** `text` once per value 0..count−1 of `{counter}`. */
function repeatText(text: string, counter: string, count: number): string[] {
  return Array.from({ length: count }, (_, n) => text.replaceAll(`{${counter}}`, String(n)));
}

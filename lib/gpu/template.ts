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
 * - `override` constants: pure numbers or flags the template declares (`override WG: u32 = 64;`), given
 *   in `constants`. They stay `override`s, set on the pipeline, not written into the text: sizes that
 *   only tune (threads per workgroup) and flags need no other source. They still go through
 *   {@link specialize}, which puts them in the kernel's name and carries them to the pipeline, so every
 *   op specializes with this one call. Anything that changes types or code (vec4 or f32, unrolling) is a
 *   slot or a counter.
 *
 * Shared pieces (kernels/workgroup_sum.wgsl and the others of lib/ops/pieces.ts, or an op's own such as
 * kernels/attention_common.wgsl) are listed in the template's `pieces`, put before it in order and
 * filled with the same values. Every line of the filled source remembers its template file and line, so
 * compile errors cite them, and the specialization's values are in its name (`matmul[layout=nt,…]`).
 *
 * A template is a module constant of its op (`{ file, code, pieces }`, the code imported as text): its
 * kernels are built once per template object and variant. Sources written by TypeScript (matmul's
 * unrolled statements) use the second form of {@link specialize}: a small variant (layout, tile, ...)
 * is the key, and the slots are generated from it once.
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

// Per template object (a module constant of its op), the kernels built from it by variant.
const specialized = new WeakMap<KernelTemplate, Map<string, KernelSource>>();

/**
 * The kernel of `template` filled with `spec`, built once per template and specialization.
 *
 * @throws {RangeError} when a placeholder has no value, or a slot or counter is not in the template.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { specialize } from "./template.ts";
 *
 * const template = { file: "kernels/example.wgsl", code: "override WG: u32 = 64;\nalias V = {{V}};" };
 * const kernel = specialize(template, { slots: { V: "vec4f" }, constants: { WG: 16 } });
 * assert.equal(kernel.name, "example[V=vec4f,WG=16]");
 * assert.equal(kernel.code, "override WG: u32 = 64;\nalias V = vec4f;");
 * assert.deepEqual(kernel.constants, { WG: 16 });
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
  let built = specialized.get(template);
  if (!built) specialized.set(template, built = new Map());
  const key = JSON.stringify(variant);
  let kernel = built.get(key);
  if (!kernel) {
    const spec = generate ? generate(variant as Variant) : variant as Specialization;
    const label = generate ? variant as Variant : { ...spec.slots, ...spec.repeat, ...spec.constants };
    built.set(key, kernel = fill(template, spec, nameOf(template.file, label)));
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

/** One template line as filled lines: slots, then each counter's sums and repetition in turn. */
function fillLine(line: string, spec: Specialization, used: Set<string>, at: string): string[] {
  if (line.trimStart().startsWith("//")) return [line];
  const indent = line.match(/^\s*/)![0];
  const filled = line.replace(/\{\{(\w+)\}\}/g, (_, slot: string) => {
    const value = spec.slots?.[slot];
    if (value === undefined) throw new RangeError(`Cannot specialize ${at}: pass a value for {{${slot}}}`);
    used.add(slot);
    return String(value).replaceAll("\n", `\n${indent}`);
  });
  let lines = filled.split("\n");
  for (const [counter, count] of Object.entries(spec.repeat ?? {})) {
    lines = lines.flatMap((l) => unroll(l, counter, count, used));
  }
  return lines;
}

/** `line` with its `{+counter: e +}` sums written out, then repeated if it names `{counter}`. */
function unroll(line: string, counter: string, count: number, used: Set<string>): string[] {
  const sums = new RegExp(`\\{\\+${counter}: (.*?) \\+\\}`, "g");
  const summed = line.replace(sums, (_, term: string) => `(${repeatText(term, counter, count).join(" + ")})`);
  const repeated = summed.includes(`{${counter}}`);
  if (repeated || summed !== line) used.add(counter);
  return repeated ? repeatText(summed, counter, count) : [summed];
}

/** `text` once per value 0..count−1 of `{counter}`. */
function repeatText(text: string, counter: string, count: number): string[] {
  return Array.from({ length: count }, (_, n) => text.replaceAll(`{${counter}}`, String(n)));
}

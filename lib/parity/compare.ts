/**
 * One line of a parity report: a quantity computed here (float32 on the GPU) against a float64 reference,
 * with its max absolute and relative error and whether it is within tolerance.
 *
 * @module
 */

/** Tolerance `|ours − ref| ≤ atol·scale + rtol·|ref|`, where `scale` is the reference's max |value|. */
export interface ParityTolerance {
  /** Absolute part, relative to the largest reference magnitude. */
  atol: number;
  /** Relative part, per element. */
  rtol: number;
}

/** One compared quantity. */
export interface ParityLine {
  /** What was compared, e.g. `logits` or `grad.model.norm.weight`. */
  quantity: string;
  /** Values compared. */
  count: number;
  /** max |ours − ref|. */
  maxAbs: number;
  /** max |ours − ref| / max |ref| (0 when the reference is all zeros and so are we). */
  maxRel: number;
  /** Whether every element is within tolerance. */
  ok: boolean;
}

/** Compares `ours` with `ref` elementwise under `tol`. */
export function compareValues(
  quantity: string,
  ours: ArrayLike<number>,
  ref: ArrayLike<number>,
  tol: ParityTolerance,
): ParityLine {
  if (ours.length !== ref.length) {
    return { quantity, count: ref.length, maxAbs: Infinity, maxRel: Infinity, ok: false };
  }
  let scale = 0;
  for (let i = 0; i < ref.length; i++) scale = Math.max(scale, Math.abs(ref[i]!));
  let maxAbs = 0;
  let ok = true;
  for (let i = 0; i < ref.length; i++) {
    const diff = Math.abs(ours[i]! - ref[i]!);
    if (!(diff <= tol.atol * scale + tol.rtol * Math.abs(ref[i]!))) ok = false;
    if (!(diff <= maxAbs)) maxAbs = Number.isNaN(diff) ? NaN : diff;
  }
  const maxRel = scale > 0 ? maxAbs / scale : maxAbs;
  return { quantity, count: ref.length, maxAbs, maxRel, ok };
}

/** Formats a line as `ok   logits  max abs 1.2e-6  rel 3.4e-7  (1536 values)`. */
export function formatParityLine(line: ParityLine): string {
  const status = line.ok ? "ok  " : "FAIL";
  return `${status} ${line.quantity.padEnd(58)} max abs ${line.maxAbs.toExponential(2)}  rel ` +
    `${line.maxRel.toExponential(2)}  (${line.count} values)`;
}

/**
 * One line of a parity report: a quantity computed here (float32 on the GPU) against a float64 reference,
 * with its max absolute and relative error and whether it is within tolerance. Values of one pass (logits,
 * gradients) are compared element by element ({@link compareValues}); weights after several optimizer steps
 * by the trajectory rule ({@link compareTrajectory}, documented in `docs/parity.md`).
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
  /** Number of values compared (the reference's length). */
  count: number;
  /** max |ours − ref|. */
  maxAbs: number;
  /** max |ours − ref| / max |ref| (0 when the reference is all zeros and so are we). */
  maxRel: number;
  /** Whether every element is within tolerance (for a trajectory: whether it passes the rule). */
  ok: boolean;
  /** What the rule measured, for lines that need more than max abs/rel (trajectories). */
  detail?: string;
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

/** Formats a line as `ok   logits  max abs 1.2e-6  rel 3.4e-7  (1536 values)`, then its detail if any. */
export function formatParityLine(line: ParityLine): string {
  const status = line.ok ? "ok  " : "FAIL";
  return `${status} ${line.quantity.padEnd(58)} max abs ${line.maxAbs.toExponential(2)}  rel ` +
    `${line.maxRel.toExponential(2)}  (${line.count} values)${line.detail ? `  ${line.detail}` : ""}`;
}

/**
 * The rule for weights after `steps` optimizer steps at learning rate `lr`, per tensor (docs/parity.md). An
 * element-wise tolerance is ill-conditioned here: an element whose gradient is near Adam's eps, or a run from
 * a high loss, moves by a fraction of lr differently in float32 than in float64, and a 1-ulp change of the
 * start moves some elements by as much. So the rule bounds what float32 cannot change much and a bug does:
 */
export interface TrajectoryRule {
  /** Bound on ‖ours − ref‖₂ / ‖ref − initial‖₂: the error relative to how far the tensor moved. */
  relNorm: number;
  /** Hard bound on every |ours − ref|, in units of lr·steps (a wrong-sign element moves by ~2). */
  hardLr: number;
  /** Elements with |ours − ref| above this many lr count as outliers. */
  outlierLr: number;
  /** Outliers allowed: this fraction of the tensor's elements, rounded up (so at least one). */
  outlierFraction: number;
}

/** The rule `deno task parity` applies; calibrated in docs/parity.md. */
export const TRAJECTORY_RULE: TrajectoryRule = {
  relNorm: 1e-3,
  hardLr: 0.5,
  outlierLr: 0.05,
  outlierFraction: 1e-3,
};

/** What {@link compareTrajectory} needs besides the values: the start and the optimizer's schedule. */
export interface TrajectoryCase {
  /** The tensor before the first step (the same for ours and the reference). */
  initial: ArrayLike<number>;
  /** The (constant) learning rate. */
  lr: number;
  /** Optimizer steps taken. */
  steps: number;
}

/**
 * Compares a tensor after a trajectory (`ours`) with the reference's under `rule`: relative norm of the
 * difference against the reference's movement, a hard element bound in lr·steps, and an outlier budget.
 *
 * @example Four weights after five steps of lr 1e-3: float32 noise passes, one wrong-sign element fails
 * ```ts
 * import assert from "node:assert/strict";
 * import { compareTrajectory, formatParityLine } from "./compare.ts";
 *
 * const trajectory = { initial: [1, 1, 1, 1], lr: 1e-3, steps: 5 };
 * const ref = [0.995, 1.005, 0.995, 1.005];
 * const line = compareTrajectory("after5.w", ref.map((v) => v + 1e-7), ref, trajectory);
 * assert.ok(line.ok);
 * assert.match(formatParityLine(line), /^ok {3}after5\.w .* outliers 0 \(≤ 1\)$/);
 * const wrongSign = compareTrajectory("after5.w", [1.005, 1.005, 0.995, 1.005], ref, trajectory);
 * assert.ok(!wrongSign.ok); // off by 2 lr·steps, above the hard bound of 0.5
 * ```
 */
export function compareTrajectory(
  quantity: string,
  ours: ArrayLike<number>,
  ref: ArrayLike<number>,
  trajectory: TrajectoryCase,
  rule: TrajectoryRule = TRAJECTORY_RULE,
): ParityLine {
  const { initial, lr, steps } = trajectory;
  const n = ref.length;
  if (ours.length !== n || initial.length !== n) {
    return { quantity, count: n, maxAbs: Infinity, maxRel: Infinity, ok: false, detail: "lengths differ" };
  }
  let diff2 = 0, moved2 = 0, maxAbs = 0, scale = 0, outliers = 0;
  for (let i = 0; i < n; i++) {
    const d = Math.abs(ours[i]! - ref[i]!);
    diff2 += d * d;
    moved2 += (ref[i]! - initial[i]!) ** 2;
    if (!(d <= maxAbs)) maxAbs = Number.isNaN(d) ? NaN : d;
    scale = Math.max(scale, Math.abs(ref[i]!));
    if (!(d <= rule.outlierLr * lr)) outliers++;
  }
  // An untouched tensor (no gradient reached it) must stay where it was: any difference fails.
  const relNorm = moved2 > 0 ? Math.sqrt(diff2 / moved2) : (diff2 === 0 ? 0 : Infinity);
  const hard = maxAbs / (lr * steps);
  const budget = Math.ceil(rule.outlierFraction * n);
  const ok = relNorm <= rule.relNorm && hard <= rule.hardLr && outliers <= budget;
  const detail =
    `rel norm ${relNorm.toExponential(2)} (≤ ${rule.relNorm})  max ${hard.toExponential(2)} lr·steps ` +
    `(≤ ${rule.hardLr})  outliers ${outliers} (≤ ${budget})`;
  return { quantity, count: n, maxAbs, maxRel: scale > 0 ? maxAbs / scale : maxAbs, ok, detail };
}

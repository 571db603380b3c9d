import { deepStrictEqual, strictEqual, throws } from "node:assert/strict";
import {
  MORA_REFERENCE_TYPE,
  MORA_VARIANTS,
  moraBackwardCpu,
  moraDeltaWeightCpu,
  moraForwardCpu,
  moraRank,
  moraRotationTables,
  type MoraVariant,
  REMORA_CYCLE,
  type RotationTables,
} from "../../lib/ops/mora/reference.ts";
import type { VectorsCase } from "../../lib/parity/mora_parity.ts";
import { assertAllClose, dot, numericGradient, randomF64, Rng, type Tolerance } from "../_numeric.ts";

interface Golden {
  cases: VectorsCase[];
  r_hat_table: { in: number; out: number; r: number; code_r_hat: number; code_r_hat_type6: number }[];
}

const golden: Golden = JSON.parse(
  await Deno.readTextFile(new URL("../../testdata/golden/mora.json", import.meta.url)),
);

const flat = (nested: unknown): Float64Array => Float64Array.from((nested as number[][]).flat(2) as number[]);

/** Golden variant key → our variant, the tables to use, and the tolerance (spec §9). */
interface GoldenCheck {
  variant: MoraVariant;
  storedTables: boolean;
  tol: Tolerance;
}

// Types 1–4, decouple and truncation: x, g, M are multiples of 1/64, so every value is an exact dyadic
// number and must match bit for bit. Type 6 with the stored float32 tables: only the summation order of
// M·u differs from PyTorch's (≈1e-15 on values of order 10), so 1e-10. With our own tables (correctly
// rounded cosf, ≤1 float32 ulp = 6e-8 from PyTorch's, and from float64 tables ≤1.1e-7), the error is
// ≤ 1.2e-7 × Σ|x|·|M| over a chunk, a few 1e-6 on the golden sizes: 1e-5 absolute, 1e-6 relative.
const EXACT = { atol: 0, rtol: 0 };
const GOLDEN_CHECKS: Record<string, GoldenCheck> = {
  "1": { variant: "sharing", storedTables: false, tol: EXACT },
  "2": { variant: "sharingContiguous", storedTables: false, tol: EXACT },
  "3": { variant: "sharingContiguousTile", storedTables: false, tol: EXACT },
  "4": { variant: "sharingModuloRepeat", storedTables: false, tol: EXACT },
  "6": { variant: "rotation", storedTables: true, tol: { atol: 1e-10, rtol: 0 } },
  "6-f64tables": { variant: "rotation", storedTables: false, tol: { atol: 1e-5, rtol: 1e-6 } },
  decouple: { variant: "decouple", storedTables: false, tol: EXACT },
  truncation: { variant: "truncation", storedTables: false, tol: EXACT },
};

for (const c of golden.cases) {
  const shape = `${c.in_features}×${c.out_features} r=${c.r}`;
  Deno.test(`MoRA CPU reference matches the golden vectors, ${shape}, every variant`, () => {
    const x = flat(c.x);
    const g = flat(c.g);
    const { in_features: inF, out_features: outF, batch: rows } = c;
    for (const v of c.variants) {
      const check = GOLDEN_CHECKS[v.variant];
      if (!check) throw new Error(`Unexpected golden variant "${v.variant}"`);
      const what = `${shape} variant ${v.variant}`;
      strictEqual(moraRank(inF, outF, c.r, check.variant), v.r_hat, `${what}: r̂`);
      const R = v.r_hat;
      const M = flat(v.M);
      const tables: RotationTables | undefined = check.storedTables
        ? { cos: flat(v.rope_cos), sin: flat(v.rope_sin) }
        : undefined;
      const forward = moraForwardCpu(x, rows, inF, outF, M, R, check.variant, tables);
      assertAllClose(forward.compressed, flat(v.compressed), check.tol, `${what}: compressed`);
      assertAllClose(forward.y, flat(v.y), check.tol, `${what}: y`);
      const backward = moraBackwardCpu(x, g, rows, inF, outF, M, R, check.variant, tables);
      assertAllClose(backward.gradM, flat(v.grad_M), check.tol, `${what}: grad_M`);
      if (v.delta_w) {
        const deltaW = moraDeltaWeightCpu(inF, outF, M, R, check.variant, tables);
        assertAllClose(deltaW, flat(v.delta_w), check.tol, `${what}: delta_w`);
      }
    }
  });
}

Deno.test("MoRA rotation with our own tables matches the official type-6 vectors within float32 table error", () => {
  for (const c of golden.cases) {
    const v = c.variants.find((v) => v.variant === "6")!;
    const n = v.rope_cos!.length;
    const ours = moraRotationTables(n, v.r_hat);
    // One float32 ulp near 1 is 5.96e-8: PyTorch's vectorised cosf is not always correctly rounded.
    assertAllClose(ours.cos, flat(v.rope_cos), { atol: 6e-8, rtol: 0 }, "cos table");
    assertAllClose(ours.sin, flat(v.rope_sin), { atol: 6e-8, rtol: 0 }, "sin table");
    const { y } = moraForwardCpu(
      flat(c.x),
      c.batch,
      c.in_features,
      c.out_features,
      flat(v.M),
      v.r_hat,
      "rotation",
    );
    assertAllClose(y, flat(v.y), { atol: 1e-5, rtol: 1e-6 }, "y with our tables");
  }
});

Deno.test("moraRank agrees with the golden r̂ table (round to nearest, even for rotation)", () => {
  for (const row of golden.r_hat_table) {
    strictEqual(moraRank(row.in, row.out, row.r, "sharing"), row.code_r_hat);
    strictEqual(moraRank(row.in, row.out, row.r, "rotation"), row.code_r_hat_type6);
    strictEqual(moraRank(row.in, row.out, row.r, "decouple"), row.code_r_hat_type6);
    strictEqual(moraRank(row.in, row.out, row.r, "truncation"), row.code_r_hat);
  }
  strictEqual(moraRank(96, 80, 4, "sharing"), 27); // spec §1: √704 = 26.53 rounds up; the paper's floor gives 26
  throws(() => moraRank(1, 1, 1, "rotation"), RangeError); // r̂ = 1 rounds down to 0
  throws(() => moraRank(0, 4, 1, "sharing"), RangeError);
});

Deno.test("REMORA_CYCLE walks reference types 1→2→3→4→1 and MORA_REFERENCE_TYPE names only the official ones", () => {
  const types: (number | undefined)[] = [];
  let variant: keyof typeof REMORA_CYCLE = "sharing";
  for (let step = 0; step < 5; step++) {
    types.push(MORA_REFERENCE_TYPE[variant]);
    variant = REMORA_CYCLE[variant];
  }
  deepStrictEqual(types, [1, 2, 3, 4, 1]);
  strictEqual(MORA_REFERENCE_TYPE.rotation, 6);
  strictEqual(MORA_REFERENCE_TYPE.truncation, undefined);
  strictEqual(MORA_REFERENCE_TYPE.decouple, undefined);
});

Deno.test("MoRA reference rejects invalid variants and odd R for rotation", () => {
  const M = new Float64Array(9);
  throws(() => moraDeltaWeightCpu(4, 4, M, 3, "rotation"), { name: "RangeError", message: /odd R/ });
  throws(() => moraDeltaWeightCpu(4, 4, M, 3, "type5" as MoraVariant), {
    name: "RangeError",
    message: /variant/,
  });
  throws(() => moraForwardCpu(new Float64Array(5), 1, 4, 4, M, 3, "sharing"), {
    name: "RangeError",
    message: /"x"/,
  });
});

/** Odd shapes, including where the reference code crashes: pad > in (types 1/4/6 forward) and n = 1 merges. */
const ODD_SHAPES: { inF: number; outF: number; R: number; note: string }[] = [
  { inF: 13, outF: 9, R: 4, note: "n = 4, pad = 3, out < in" },
  { inF: 7, outF: 23, R: 16, note: "pad = 9 > in: wraps twice" },
  { inF: 3, outF: 5, R: 10, note: "pad = 7 > in: x repeated 3⅓ times, out < R" },
  { inF: 14, outF: 20, R: 16, note: "n = 1 (reference merge crashes for rotation)" },
  { inF: 11, outF: 31, R: 6, note: "out > chunks·R: cyclic repeat" },
];

for (const { inF, outF, R, note } of ODD_SHAPES) {
  Deno.test(`MoRA reference: y = x·ΔWᵀ, gradX = g·ΔW and finite differences, ${inF}×${outF} R=${R} (${note})`, () => {
    const rng = new Rng(inF * 1000 + outF * 10 + R);
    const rows = 3;
    for (const variant of MORA_VARIANTS) {
      const x = randomF64(rng, rows * inF);
      const g = randomF64(rng, rows * outF);
      const M = randomF64(rng, R * R);
      const what = `${variant} ${inF}×${outF} R=${R}`;
      const { y } = moraForwardCpu(x, rows, inF, outF, M, R, variant);
      const { gradM, gradX } = moraBackwardCpu(x, g, rows, inF, outF, M, R, variant);
      const deltaW = moraDeltaWeightCpu(inF, outF, M, R, variant);
      // Sums of at most a few dozen products of values in [-1, 1): rounding stays below 1e-13.
      assertAllClose(
        y,
        rowsTimesTransposed(x, deltaW, rows, inF, outF),
        { atol: 1e-13, rtol: 0 },
        `${what}: y`,
      );
      assertAllClose(
        gradX,
        rowsTimes(g, deltaW, rows, outF, inF),
        { atol: 1e-13, rtol: 0 },
        `${what}: gradX`,
      );
      // L is linear in M and in x, so central differences are exact up to rounding: ~1e-16/h = 1e-10.
      const loss = () => dot(moraForwardCpu(x, rows, inF, outF, M, R, variant).y, g);
      assertAllClose(gradM, numericGradient(loss, M), { atol: 1e-8, rtol: 0 }, `${what}: gradM vs FD`);
      assertAllClose(gradX, numericGradient(loss, x), { atol: 1e-8, rtol: 0 }, `${what}: gradX vs FD`);
    }
  });
}

/** (rows, outF) = a (rows, inF) · w (outF, inF)ᵀ. */
function rowsTimesTransposed(
  a: Float64Array,
  w: Float64Array,
  rows: number,
  inF: number,
  outF: number,
): Float64Array {
  const out = new Float64Array(rows * outF);
  for (let b = 0; b < rows; b++) {
    for (let o = 0; o < outF; o++) {
      let s = 0;
      for (let i = 0; i < inF; i++) s += a[b * inF + i]! * w[o * inF + i]!;
      out[b * outF + o] = s;
    }
  }
  return out;
}

/** (rows, inF) = g (rows, outF) · w (outF, inF). */
function rowsTimes(g: Float64Array, w: Float64Array, rows: number, outF: number, inF: number): Float64Array {
  const out = new Float64Array(rows * inF);
  for (let b = 0; b < rows; b++) {
    for (let o = 0; o < outF; o++) {
      for (let i = 0; i < inF; i++) out[b * inF + i] = out[b * inF + i]! + g[b * outF + o]! * w[o * inF + i]!;
    }
  }
  return out;
}

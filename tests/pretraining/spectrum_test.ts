import assert from "node:assert/strict";
import {
  countAbove,
  LEADING_VALUES,
  moduleSpectra,
  SINGULAR_VALUE_THRESHOLD,
  singularValues,
} from "../../lib/pretraining/spectrum.ts";
import { SeededRandom } from "../../lib/random.ts";

/** Orthonormal columns (rows × k) by Gram–Schmidt on seeded normals. */
function orthonormal(rows: number, k: number, seed: number): number[][] {
  const cols: number[][] = [];
  const random = new SeededRandom(seed, "orthonormal");
  while (cols.length < k) {
    const v = Array.from(random.normals(rows, 1));
    for (const c of cols) {
      const dot = v.reduce((a, x, i) => a + x * c[i]!, 0);
      for (let i = 0; i < rows; i++) v[i]! -= dot * c[i]!;
    }
    const norm = Math.hypot(...v);
    cols.push(v.map((x) => x / norm));
  }
  return cols;
}

/** U · diag(s) · Vᵀ, row-major rows × cols: a matrix whose singular values are exactly `s`. */
function withSpectrum(rows: number, cols: number, s: number[], seed: number): Float64Array {
  const u = orthonormal(rows, s.length, seed), v = orthonormal(cols, s.length, seed + 1);
  const m = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      m[i * cols + j] = s.reduce((a, sk, k) => a + sk * u[k]![i]! * v[k]![j]!, 0);
    }
  }
  return m;
}

Deno.test("a matrix of known spectrum gives back its singular values, descending", () => {
  const s = [3, 1.5, 0.4, 0.2, 0.05];
  const values = singularValues(withSpectrum(24, 40, s, 7), 24, 40);
  assert.equal(values.length, 24);
  for (const [i, expected] of s.entries()) assert.ok(Math.abs(values[i]! - expected) < 1e-10, `σ${i}`);
  for (const rest of values.slice(s.length)) assert.ok(rest < 1e-10);
  // Tall and wide give the same spectrum.
  const transposed = withSpectrum(40, 24, s, 7);
  assert.ok(Math.abs(singularValues(transposed, 40, 24)[0]! - 3) < 1e-10);
});

Deno.test("a rank-k matrix has exactly k singular values above the 0.1 threshold", () => {
  for (const k of [1, 4, 9]) {
    const s = Array.from({ length: k }, (_, i) => 0.15 + i * 0.3);
    const values = singularValues(withSpectrum(32, 48, s, k), 32, 48);
    assert.equal(countAbove(values), k, `rank ${k}`);
  }
  assert.equal(SINGULAR_VALUE_THRESHOLD, 0.1);
  assert.equal(countAbove([0.5, 0.1, 0.0999]), 1, "0.1 itself is not above the threshold");
});

Deno.test("module spectra average the counts over layers per module type, in projection order", () => {
  const delta = (path: string, s: number[]) => ({
    path,
    rows: 16,
    cols: 16,
    delta: withSpectrum(16, 16, s, 3),
  });
  const spectra = moduleSpectra([
    delta("model.layers.0.mlp.down_proj", [1, 1, 1]),
    delta("model.layers.0.self_attn.q_proj", [1]),
    delta("model.layers.1.self_attn.q_proj", [2, 0.5, 0.3]),
  ]);
  assert.deepEqual(spectra.map((s) => s.module), ["q_proj", "down_proj"]);
  assert.deepEqual(spectra[0]!.counts, [1, 3]);
  assert.equal(spectra[0]!.meanCount, 2);
  assert.ok(Math.abs(spectra[0]!.leading[0]! - 1.5) < 1e-10, "the leading value is averaged over layers");
  assert.equal(spectra[0]!.leading.length, Math.min(16, LEADING_VALUES));
  assert.throws(() => moduleSpectra([delta("lm_head", [1])]), /Cannot group "lm_head" by module type/);
  assert.throws(() => singularValues([1, 2, 3], 2, 2), /Cannot take the SVD of 3 values as a 2×2 matrix/);
});

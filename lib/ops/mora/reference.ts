/**
 * Float64 CPU reference of MoRA's adapter path `y = f_decomp(M · f_comp(x))` (paper Eq. 2), its gradients,
 * and the merged `ΔW` (paper Eq. 3: `y = ΔW·x`), for every variant of `variants.ts`, whose module
 * comment defines the operators, the wrap padding and how the shapes the reference code crashes on are
 * handled.
 *
 * All three functions are built from the same sparse compression `C` (slots × in) and decompression map
 * `D` (out → slot or none), so forward, backward and ΔW agree on every shape:
 * - forward: `c = C·x`, `z_j = M·c_j` per chunk j, `y[o] = z[D(o)]`;
 * - backward (spec §2.5): `dz[s] = Σ_{o: D(o)=s} g[o]` (fold), `∂L/∂M = Σ_rows Σ_j dz_j·c_jᵀ`,
 *   `dc_j = Mᵀ·dz_j`, `∂L/∂x = Cᵀ·dc`;
 * - merge: `ΔW = D · blockdiag(M) · C`.
 * Rows are the rows of x (row-vector form `y = x·ΔWᵀ`).
 *
 * @module
 */

import {
  contiguousGroupOf,
  contiguousGroups,
  MORA_OPERATORS,
  moraLayout,
  moraRotationTables,
  type MoraVariant,
  type RotationTables,
} from "./variants.ts";

export {
  MORA_REFERENCE_TYPE,
  MORA_VARIANTS,
  moraRank,
  moraRotationTables,
  type MoraVariant,
  REMORA_CYCLE,
  type RotationTables,
} from "./variants.ts";

/** The compression `C` as a list of terms `c[slot] += coef · x[col]`. */
export interface CompressionTerms {
  /** Compressed values per row (R, or chunks·R). */
  slots: number;
  /** Destination slot of each term. */
  slot: Int32Array;
  /** Source feature of each term. */
  col: Int32Array;
  /** Coefficient of each term (1 except for the rotation). */
  coef: Float64Array;
}

/**
 * The compression operator of a variant as sparse terms. `tables` overrides the rotation tables (for
 * bit-exact checks against stored reference tables); by default {@link moraRotationTables} is used.
 */
export function moraCompressionTerms(
  inF: number,
  R: number,
  variant: MoraVariant,
  tables?: RotationTables,
): CompressionTerms {
  const layout = moraLayout(inF, 1, R, variant);
  const terms: [number, number, number][] = [];
  const compression = MORA_OPERATORS[variant].compression;
  if (compression === "truncate") {
    for (let k = 0; k < Math.min(inF, R); k++) terms.push([k, k, 1]); // Eq. 4
  } else if (compression === "contiguousSum") {
    const groups = contiguousGroups(inF, R);
    for (let i = 0; i < inF; i++) terms.push([contiguousGroupOf(i, groups), i, 1]);
  } else if (compression === "moduloSum") {
    for (let p = 0; p < layout.padded; p++) terms.push([p % R, p % inF, 1]); // Eq. 6, wrap-padded
  } else if (compression === "chunks") {
    for (let p = 0; p < layout.padded; p++) terms.push([p, p % inF, 1]); // Eq. 8
  } else {
    pushRotatedChunks(terms, inF, R, layout.chunks, tables ?? moraRotationTables(layout.chunks, R));
  }
  return {
    slots: layout.slots,
    slot: Int32Array.from(terms, (t) => t[0]),
    col: Int32Array.from(terms, (t) => t[1]),
    coef: Float64Array.from(terms, (t) => t[2]),
  };
}

/** Eq. 9–11 in the reference's half-split form: `u[k] = v[k]·cos − v[k+h]·sin` (k < h), `+ v[k−h]·sin` (k ≥ h). */
function pushRotatedChunks(
  terms: [number, number, number][],
  inF: number,
  R: number,
  chunks: number,
  tables: RotationTables,
): void {
  if (tables.cos.length !== chunks * R || tables.sin.length !== chunks * R) {
    throw new RangeError(
      `Cannot rotate ${chunks} chunks of ${R}: the tables hold ${tables.cos.length} values`,
    );
  }
  const half = R / 2;
  for (let p = 0; p < chunks * R; p++) {
    const k = p % R;
    const partner = k < half ? p + half : p - half;
    terms.push([p, p % inF, tables.cos[p]!]);
    terms.push([p, partner % inF, (k < half ? -1 : 1) * tables.sin[p]!]);
  }
}

/** The decompression `D`: the slot each output feature copies, or -1 where it is zero. */
export function moraDecompressionSources(
  inF: number,
  outF: number,
  R: number,
  variant: MoraVariant,
): Int32Array {
  const { slots } = moraLayout(inF, outF, R, variant);
  const sources = new Int32Array(outF);
  const decompression = MORA_OPERATORS[variant].decompression;
  const groups = contiguousGroups(outF, R);
  for (let o = 0; o < outF; o++) {
    if (decompression === "zeroPad") sources[o] = o < R ? o : -1; // Eq. 4
    else if (decompression === "tile") sources[o] = o % slots; // Eq. 6 tile; Eq. 8 concat + truncate/repeat
    else sources[o] = contiguousGroupOf(o, groups);
  }
  return sources;
}

/** Rows × slots: `c = C·x` for each row. */
function compressRows(x: Float64Array, rows: number, inF: number, terms: CompressionTerms): Float64Array {
  const c = new Float64Array(rows * terms.slots);
  for (let b = 0; b < rows; b++) {
    for (let t = 0; t < terms.slot.length; t++) {
      addAt(c, b * terms.slots + terms.slot[t]!, terms.coef[t]! * x[b * inF + terms.col[t]!]!);
    }
  }
  return c;
}

/** `z_j = M·c_j` for every chunk of R values in `c` (rows·slots values). */
function applySquare(c: Float64Array, M: Float64Array, R: number): Float64Array {
  const z = new Float64Array(c.length);
  for (let base = 0; base < c.length; base += R) {
    for (let a = 0; a < R; a++) {
      let sum = 0;
      for (let k = 0; k < R; k++) sum += M[a * R + k]! * c[base + k]!;
      z[base + a] = sum;
    }
  }
  return z;
}

function addAt(array: Float64Array, index: number, value: number): void {
  array[index] = array[index]! + value;
}

/** A variant's compression terms and decompression sources at these sizes, after checking that M is (R, R). */
function moraOperatorsCpu(
  inF: number,
  outF: number,
  M: Float64Array,
  R: number,
  variant: MoraVariant,
  tables?: RotationTables,
): { terms: CompressionTerms; sources: Int32Array } {
  checkLengths("M", M, R * R);
  return {
    terms: moraCompressionTerms(inF, R, variant, tables),
    sources: moraDecompressionSources(inF, outF, R, variant),
  };
}

function checkLengths(name: string, array: Float64Array, expected: number): void {
  if (array.length !== expected) {
    throw new RangeError(
      `Cannot run the MoRA reference: "${name}" has ${array.length} values, expected ${expected}`,
    );
  }
}

/** Result of {@link moraForwardCpu}. */
export interface MoraForwardCpuResult {
  /** (rows, slots) = f_comp(x): (rows, R), or (rows, chunks, R) rotated chunks for `decouple`/`rotation`. */
  compressed: Float64Array;
  /** (rows, outF) = f_decomp(M·f_comp(x)), the adapter output only. */
  y: Float64Array;
}

/**
 * The adapter output of `rows` rows of x (rows, inF) with M (R, R), in float64 (paper Eq. 2).
 * `tables` overrides the rotation tables (see {@link moraCompressionTerms}).
 */
export function moraForwardCpu(
  x: Float64Array,
  rows: number,
  inF: number,
  outF: number,
  M: Float64Array,
  R: number,
  variant: MoraVariant,
  tables?: RotationTables,
): MoraForwardCpuResult {
  checkLengths("x", x, rows * inF);
  const { terms, sources } = moraOperatorsCpu(inF, outF, M, R, variant, tables);
  const compressed = compressRows(x, rows, inF, terms);
  const z = applySquare(compressed, M, R);
  const y = new Float64Array(rows * outF);
  for (let b = 0; b < rows; b++) {
    for (let o = 0; o < outF; o++) {
      const s = sources[o]!;
      if (s >= 0) y[b * outF + o] = z[b * terms.slots + s]!;
    }
  }
  return { compressed, y };
}

/** Result of {@link moraBackwardCpu}. */
export interface MoraBackwardCpuResult {
  /** (R, R) = ∂Σ(y⊙g)/∂M. */
  gradM: Float64Array;
  /** (rows, inF) = g·ΔW, the adapter's share of ∂L/∂x. */
  gradX: Float64Array;
}

/** Gradients of `L = Σ y⊙g` for the forward of {@link moraForwardCpu} (spec §2.5). */
export function moraBackwardCpu(
  x: Float64Array,
  g: Float64Array,
  rows: number,
  inF: number,
  outF: number,
  M: Float64Array,
  R: number,
  variant: MoraVariant,
  tables?: RotationTables,
): MoraBackwardCpuResult {
  checkLengths("x", x, rows * inF);
  checkLengths("g", g, rows * outF);
  const { terms, sources } = moraOperatorsCpu(inF, outF, M, R, variant, tables);
  const slots = terms.slots;
  const compressed = compressRows(x, rows, inF, terms);
  const dz = new Float64Array(rows * slots); // fold: Dᵀ·g
  for (let b = 0; b < rows; b++) {
    for (let o = 0; o < outF; o++) {
      if (sources[o]! >= 0) addAt(dz, b * slots + sources[o]!, g[b * outF + o]!);
    }
  }
  const gradM = new Float64Array(R * R);
  const dc = new Float64Array(rows * slots);
  for (let base = 0; base < dz.length; base += R) {
    for (let a = 0; a < R; a++) {
      const dza = dz[base + a]!;
      for (let k = 0; k < R; k++) {
        addAt(gradM, a * R + k, dza * compressed[base + k]!);
        addAt(dc, base + k, M[a * R + k]! * dza);
      }
    }
  }
  const gradX = new Float64Array(rows * inF); // Cᵀ·dc
  for (let b = 0; b < rows; b++) {
    for (let t = 0; t < terms.slot.length; t++) {
      addAt(gradX, b * inF + terms.col[t]!, terms.coef[t]! * dc[b * slots + terms.slot[t]!]!);
    }
  }
  return { gradM, gradX };
}

/** The merged update ΔW (outF, inF) = D·blockdiag(M)·C, so that `y = x·ΔWᵀ` (paper Eq. 3, 5, 7, 9). */
export function moraDeltaWeightCpu(
  inF: number,
  outF: number,
  M: Float64Array,
  R: number,
  variant: MoraVariant,
  tables?: RotationTables,
): Float64Array {
  const { terms, sources } = moraOperatorsCpu(inF, outF, M, R, variant, tables);
  const dense = new Float64Array(terms.slots * inF); // C as a dense (slots, inF) matrix
  for (let t = 0; t < terms.slot.length; t++) {
    addAt(dense, terms.slot[t]! * inF + terms.col[t]!, terms.coef[t]!);
  }
  const deltaW = new Float64Array(outF * inF);
  for (let o = 0; o < outF; o++) {
    const s = sources[o]!;
    if (s < 0) continue;
    const chunkBase = s - (s % R);
    const row = s % R;
    for (let k = 0; k < R; k++) {
      const m = M[row * R + k]!;
      const from = (chunkBase + k) * inF;
      for (let col = 0; col < inF; col++) addAt(deltaW, o * inF + col, m * dense[from + col]!);
    }
  }
  return deltaW;
}

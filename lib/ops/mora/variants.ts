/**
 * MoRA's variants and the index maps of their compression and decompression operators (paper §4,
 * spec/mora.md §1–3), shared by the float64 CPU reference (`reference.ts`) and the WGSL kernels
 * (`operators.ts`).
 *
 * Every variant is `ΔW = D · blockdiag(M, …, M) · C`, with `C` (slots × in) the compression, `M` (R × R)
 * applied to each of the `n` chunks of R slots, and `D` (out × slots) a 0/1 decompression:
 *
 * | variant                 | ref. type | C (compression)                    | D (decompression)           |
 * |-------------------------|-----------|------------------------------------|-----------------------------|
 * | `truncation` (Eq. 4)    | —         | `c[k] = x[k]` for k < min(in, R)   | `y[o] = z[o]` for o < R     |
 * | `sharing` (Eq. 6)       | 1         | wrap-pad, sum of the n chunks      | tile: `y[o] = z[o mod R]`   |
 * | `sharingContiguous`     | 2         | contiguous group sums              | contiguous repeat           |
 * | `sharingContiguousTile` | 3         | contiguous group sums              | tile                        |
 * | `sharingModuloRepeat`   | 4         | wrap-pad, sum of the n chunks      | contiguous repeat           |
 * | `decouple` (Eq. 8)      | —         | wrap-pad, n chunks kept apart      | `y[o] = Z[o mod nR]`        |
 * | `rotation` (Eq. 9)      | 6         | wrap-pad, chunk j rotated by j·θ   | `y[o] = Z[o mod nR]`        |
 *
 * Wrap padding: `n = ceil(in/R)`, `L = n·R`, and the padded input is `xp[p] = x[p mod in]` for p < L. The
 * reference code writes `xp = [x, x[:pad]]` with `pad = L − in`, which is the same thing when `pad ≤ in` and
 * crashes when `pad > in` (spec §8.2). `pad > in` implies in < R, hence n = 1, and `x[p mod in]` then repeats x
 * as many times as needed (`⌊R/in⌋` full copies and a partial one). We take that as the definition for every
 * shape, and forward, backward and ΔW are all derived from the same operator C, so they agree everywhere,
 * including n = 1 for `rotation`/`decouple`, where the reference merge crashes (spec §8.1) and ΔW is simply
 * `M·P` (chunk 0 is not rotated).
 *
 * @module
 */

/** Every implemented variant; the ReMoRA groupings are named after their compression and decompression. */
export const MORA_VARIANTS = [
  "truncation",
  "sharing",
  "sharingContiguous",
  "sharingContiguousTile",
  "sharingModuloRepeat",
  "decouple",
  "rotation",
] as const;

/** A MoRA variant (see the module table). */
export type MoraVariant = typeof MORA_VARIANTS[number];

/** The variants ReMoRA cycles through (the reference's types 1–4). */
export type MoraSharingVariant =
  | "sharing"
  | "sharingContiguous"
  | "sharingContiguousTile"
  | "sharingModuloRepeat";

/** The reference code's `mora_type` of each variant; `undefined` where the reference code has none. */
export const MORA_REFERENCE_TYPE: Readonly<Record<MoraVariant, number | undefined>> = {
  truncation: undefined,
  sharing: 1,
  sharingContiguous: 2,
  sharingContiguousTile: 3,
  sharingModuloRepeat: 4,
  decouple: undefined,
  rotation: 6,
};

/** ReMoRA's type map after each merge (spec §6, `remora_types = 4`): 1→2→3→4→1. */
export const REMORA_CYCLE: Readonly<Record<MoraSharingVariant, MoraSharingVariant>> = {
  sharing: "sharingContiguous",
  sharingContiguous: "sharingContiguousTile",
  sharingContiguousTile: "sharingModuloRepeat",
  sharingModuloRepeat: "sharing",
};

/** How x (in) becomes the compressed slots. */
export type MoraCompression = "truncate" | "moduloSum" | "contiguousSum" | "chunks" | "rotatedChunks";

/** How the slots z become y (out). `tile` repeats the slots of a row cyclically (period R, or nR for chunks). */
export type MoraDecompression = "zeroPad" | "tile" | "contiguousRepeat";

/** The two operators of each variant. */
export const MORA_OPERATORS: Readonly<
  Record<MoraVariant, { compression: MoraCompression; decompression: MoraDecompression }>
> = {
  truncation: { compression: "truncate", decompression: "zeroPad" },
  sharing: { compression: "moduloSum", decompression: "tile" },
  sharingContiguous: { compression: "contiguousSum", decompression: "contiguousRepeat" },
  sharingContiguousTile: { compression: "contiguousSum", decompression: "tile" },
  sharingModuloRepeat: { compression: "moduloSum", decompression: "contiguousRepeat" },
  decouple: { compression: "chunks", decompression: "tile" },
  rotation: { compression: "rotatedChunks", decompression: "tile" },
};

/** Whether the variant keeps the n chunks apart (`decouple`, `rotation`): M applies to each chunk. */
export function isChunked(variant: MoraVariant): boolean {
  const { compression } = MORA_OPERATORS[variant];
  return compression === "chunks" || compression === "rotatedChunks";
}

/**
 * r̂ as the reference code computes it (spec §1): `int(sqrt((in + out)·r) + 0.5)`, rounded down to even for
 * the chunked variants (the reference forces it for RoPE; `decouple` keeps it, as the golden vectors do).
 * The paper writes ⌊√((d+k)r)⌋; the code rounds to nearest.
 *
 * @throws {RangeError} when a size is not a positive integer or the result is 0.
 */
export function moraRank(inF: number, outF: number, r: number, variant: MoraVariant): number {
  for (const [name, value] of [["inF", inF], ["outF", outF], ["r", r]] as const) {
    if (!Number.isInteger(value) || value < 1) {
      throw new RangeError(`Cannot compute r̂: ${name} = ${value} is not a positive integer`);
    }
  }
  let rank = Math.floor(Math.sqrt((inF + outF) * r) + 0.5);
  if (isChunked(variant)) rank = 2 * Math.floor(rank / 2);
  if (rank < 1) throw new RangeError(`Cannot use variant "${variant}" with r̂ = 0: use a larger r`);
  return rank;
}

/** Sizes derived from (in, out, R, variant). */
export interface MoraLayout {
  /** Chunks of the wrap-padded input: ceil(in/R) for the chunked variants, 1 otherwise. */
  chunks: number;
  /** Compressed values per row: chunks·R. */
  slots: number;
  /** Wrap-padded input length ceil(in/R)·R (used by the modulo and chunked compressions). */
  padded: number;
  /**
   * Chunks that reach the output: `ceil(min(out, slots)/R)` for the chunked variants, whose tile
   * decompression reads `Z[o mod slots]` for o < out only, and 1 otherwise. The chunks past it change
   * neither y, ∂M nor ∂x (see `operators.ts`), so the kernels compute only these.
   */
  neededChunks: number;
  /** neededChunks·R: the compressed values per row the kernels compute. */
  neededSlots: number;
}

/**
 * Checks the sizes and returns the layout of one adapter.
 *
 * @throws {RangeError} naming the size that is not a positive integer, or an odd R for `rotation`.
 */
export function moraLayout(inF: number, outF: number, R: number, variant: MoraVariant): MoraLayout {
  if (!MORA_VARIANTS.includes(variant)) {
    throw new RangeError(`Cannot use MoRA variant "${variant}": use one of ${MORA_VARIANTS.join(", ")}`);
  }
  for (const [name, value] of [["inF", inF], ["outF", outF], ["R", R]] as const) {
    if (!Number.isInteger(value) || value < 1) {
      throw new RangeError(`Cannot build MoRA "${variant}": ${name} = ${value} is not a positive integer`);
    }
  }
  if (variant === "rotation" && R % 2 !== 0) {
    throw new RangeError(
      `Cannot rotate with odd R = ${R}: the half-split rotation needs an even r̂ (see moraRank)`,
    );
  }
  const padded = Math.ceil(inF / R) * R;
  const chunks = isChunked(variant) ? padded / R : 1;
  const slots = chunks * R;
  const neededChunks = Math.ceil(Math.min(outF, slots) / R);
  return { chunks, slots, padded, neededChunks, neededSlots: neededChunks * R };
}

/**
 * The contiguous grouping of a length-`size` axis into R groups (spec §2 "Contiguous groups"): the first
 * `size mod R` groups have `⌊size/R⌋ + 1` members, the others `⌊size/R⌋` (zero when size < R).
 */
export interface ContiguousGroups {
  /** ⌊size/R⌋, the size of the small groups. */
  small: number;
  /** size mod R, the number of large groups (small + 1 members). */
  large: number;
}

/** The contiguous grouping of `size` features into `R` groups. */
export function contiguousGroups(size: number, R: number): ContiguousGroups {
  return { small: Math.floor(size / R), large: size % R };
}

/** `G_N(i)`: the group of index i under {@link contiguousGroups}. */
export function contiguousGroupOf(i: number, groups: ContiguousGroups): number {
  const split = groups.large * (groups.small + 1);
  return i < split
    ? Math.floor(i / (groups.small + 1))
    : groups.large + Math.floor((i - split) / groups.small);
}

/** cos and sin of the chunk rotations, each (chunks, R) row-major, half-split layout. */
export interface RotationTables {
  /** `cos[j·R + k] = cos(j·θ_{k mod R/2})`. */
  cos: Float64Array;
  /** `sin[j·R + k] = sin(j·θ_{k mod R/2})`. */
  sin: Float64Array;
}

/**
 * The rotation tables of `n` chunks of size R as the reference computes them (spec §3, Eq. 10–11) in float32:
 * `θ_q = 1/10000^(2q/R)`, angle `j·θ_q`, `emb = [ang, ang]`, every step rounded to float32. Our cos/sin are
 * the correctly rounded float32 values of the float32 angle; PyTorch's vectorised cosf differs from that by
 * at most 1 ulp (5.96e-8, measured on the golden tables; sin matched exactly), so tests that must be exact
 * use the stored golden tables.
 *
 * @throws {RangeError} when R is odd or n is not a positive integer.
 */
export function moraRotationTables(n: number, R: number): RotationTables {
  if (!Number.isInteger(n) || n < 1 || !Number.isInteger(R) || R < 2 || R % 2 !== 0) {
    throw new RangeError(`Cannot build rotation tables for n = ${n}, R = ${R}: need n ≥ 1 and an even R ≥ 2`);
  }
  const f = Math.fround;
  const half = R / 2;
  const inverseFrequency = Array.from({ length: half }, (_, q) => f(1 / f(10000 ** f(f(2 * q) / R))));
  const cos = new Float64Array(n * R);
  const sin = new Float64Array(n * R);
  for (let j = 0; j < n; j++) {
    for (let k = 0; k < R; k++) {
      const angle = f(j * inverseFrequency[k % half]!);
      cos[j * R + k] = f(Math.cos(angle));
      sin[j * R + k] = f(Math.sin(angle));
    }
  }
  return { cos, sin };
}

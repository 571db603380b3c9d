// Shared piece of the MoRA rotation compression (paper Eq. 9–11, spec/mora.md §2.3 and §3), one pass over
// x: mora_compress_rotate.wgsl (one column of u per thread, either layout) and mora_compress_rotate_vec4.wgsl
// (four, row-major, for in_features a multiple of 4) list it as a piece after kernels/mora_tiling.wgsl
// (lib/ops/mora/templates.ts), and compute the same products. The input is wrap-padded to L = chunks·R
// (xp[p] = x[p mod in]) and chunk j is rotated by RoPE angles j·θ in the half-split layout (element k
// pairs with k ± R/2):
//   u[b, p] = cos[p]·xp[p] − sin[p]·xp[p + R/2]   if p mod R < R/2
//   u[b, p] = cos[p]·xp[p] + sin[p]·xp[p − R/2]   otherwise
// x is (rows, in); cos, sin are (chunks, R) = (L); u is (rows·n′, P), overwritten, for the n′ needed
// chunks (later ones never reach the output, see lib/ops/mora/operators.ts): position p = j·R + k sits at
// column j·P + k of its row, P = R rounded up to a multiple of 4, and the columns k ≥ R are zeros.

struct Params {
  rows: u32,
  inFeatures: u32,
  width: u32,      // columns per row of u: n′·P
  rank: u32,
  stride: u32,     // P, columns per chunk
  colTiles: u32,
}

// Shared piece of the MoRA rotation compression backward (spec/mora.md §2.5):
// mora_compress_rotate_backward.wgsl (one column of dx per thread) and mora_compress_rotate_backward_vec4.wgsl
// (four, for in_features a multiple of 4) list it as a piece after kernels/mora_tiling.wgsl
// (lib/ops/mora/templates.ts), and sum the same terms in the same order. They un-rotate dc chunk by chunk
// (Rⱼᵀ, rotation by −j·θ in the half-split layout) and scatter-add the wrap-padded positions back into dx:
//   dv[p] = cos[p]·dc[p] + sin[p + R/2]·dc[p + R/2]   if p mod R < R/2
//   dv[p] = cos[p]·dc[p] − sin[p − R/2]·dc[p − R/2]   otherwise
//   dx[b, i] += Σ_{p = i + t·in < slots} dv[b, p]
// dc is (rows·n′, P) in the layout of mora_compress_rotate.wgsl (p = j·R + k at column j·P + k of its row;
// slots = L′ = n′·R ≤ L, the needed chunks, see lib/ops/mora/operators.ts); cos, sin are (chunks, R) = (L);
// dx is (rows, in), read and written.

struct Params {
  rows: u32,
  inFeatures: u32,
  slots: u32,      // L′ = n′·R
  width: u32,      // columns per row of dc: n′·P
  rank: u32,
  stride: u32,     // P, columns per chunk
  colTiles: u32,
}

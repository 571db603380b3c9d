// Shared piece of the MoRA compression backward without rotation, Cᵀ (spec/mora.md §2.5), ADDED into dx
// (the base layer's g·W0 is already there): mora_compress_backward.wgsl (one column of dx per thread) and
// mora_compress_backward_vec4.wgsl (four, for in_features a multiple of 4) list it as a piece after
// kernels/mora_tiling.wgsl (lib/ops/mora/templates.ts), and sum the same members in the same order:
//   truncate (Eq. 4):     dx[b, i] += dc[b, i]                                  for i < min(in, R) (columns)
//   modulo sum (Eq. 6):   dx[b, i] += Σ_{p = i + t·in < positions} dc[b, p mod R]   (positions = ceil(in/R)·R)
//   contiguous sum:       dx[b, i] += dc[b, G_in(i)]
//   wrap-padded chunks:   dx[b, i] += Σ_{p = i + t·in < positions} dc[b, p]        (positions = slots)
// dc is (rows·n′, P) in the layout of mora_compress.wgsl (slot p = j·R + k at column j·P + k of its row;
// slots = n′·R, the needed chunks for the chunked compression, see lib/ops/mora/operators.ts); dx is
// (rows, inFeatures), read and written, bound by each kernel at binding 2.

struct Params {
  rows: u32,
  inFeatures: u32,
  width: u32,        // columns per row of dc: n′·P
  rank: u32,
  stride: u32,       // P, columns per chunk
  positions: u32,    // wrap-padded positions summed: ceil(in/R)·R (modulo sum), or slots (chunks)
  columns: u32,      // columns written: inFeatures, or min(slots, inFeatures) (truncate, chunks)
  colTiles: u32,
  groupSmall: u32,   // contiguous sum: floor(in/R) members per group ...
  groupLarge: u32,   // ... plus one for the first in mod R groups
}

// 0 truncate, 1 modulo sum, 2 contiguous sum, 3 wrap-padded chunks.
override KIND: u32 = 0u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> dc: array<f32>;

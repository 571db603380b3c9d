// Shared piece of the MoRA decompression backward, the fold Dᵀ (spec/mora.md §2.5):
// mora_decompress_backward.wgsl (one slot of dz per thread) and mora_decompress_backward_vec4.wgsl (four,
// for out_features a multiple of 4) list it as a piece after kernels/mora_tiling.wgsl
// (lib/ops/mora/templates.ts), and sum the same members in the same order, so results are deterministic:
//   dz[b, s] = Σ_{o: source(o) = s} dout[b, o]
//   zero pad (Eq. 4):     dz[b, s] = dout[b, s] if s < out, else 0
//   tile:                 dz[b, s] = Σ_{t: s + t·slots < out} dout[b, s + t·slots]
//   contiguous repeat:    dz[b, s] = Σ_{o in group s of out} dout[b, o]
// dout is (rows, outFeatures); dz is (rows·n′, P) in the layout of mora_compress.wgsl (slot s = j·R + k at
// column j·P + k, zeros at k ≥ R), overwritten. For the chunked variants slots = n′·R, the needed chunks,
// a period that folds like chunks·R since o mod L = o mod L′ for every o < out (lib/ops/mora/operators.ts).

struct Params {
  rows: u32,
  outFeatures: u32,
  slots: u32,       // n′·R, the period of the tile
  width: u32,       // columns per row of dz: n′·P
  rank: u32,
  stride: u32,      // P, columns per chunk
  colTiles: u32,
  groupSmall: u32,  // contiguous repeat: floor(out/R) members per group ...
  groupLarge: u32,  // ... plus one for the first out mod R groups
}

// 0 zero pad, 1 tile, 2 contiguous repeat.
override KIND: u32 = 1u;

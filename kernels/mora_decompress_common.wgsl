// Shared piece of the MoRA decompression forward, f_decomp (paper Eq. 4, 6, 8; spec/mora.md §2), ADDED into
// the base layer's output in one gather-add pass: mora_decompress.wgsl (one output column per thread) and
// mora_decompress_vec4.wgsl (four, for out_features a multiple of 4) list it as a piece after
// kernels/mora_tiling.wgsl (lib/ops/mora/templates.ts), and compute the same sums:
//   zero pad (Eq. 4):          out[b, o] += z[b, o]                  for o < min(R, out) (columns)
//   tile (Eq. 6, types 1, 3; and Eq. 8/9 concat + truncate/repeat, slots = needed chunks·R, see
//   lib/ops/mora/operators.ts: o mod slots = o mod chunks·R for every o < out):
//                              out[b, o] += z[b, o mod slots]
//   contiguous repeat (types 2, 4): out[b, o] += z[b, G_out(o)]
// z is (rows·n′, P) in the layout of mora_compress.wgsl (slot s = j·R + k at column j·P + k of its row);
// out is (rows, outFeatures), read and written.

struct Params {
  rows: u32,
  outFeatures: u32,
  slots: u32,        // n′·R, the period of the tile
  width: u32,        // columns per row of z: n′·P
  rank: u32,
  stride: u32,       // P, columns per chunk
  columns: u32,      // columns written: outFeatures, or min(R, outFeatures) for zero pad
  colTiles: u32,
  groupSmall: u32,   // contiguous repeat: floor(out/R) copies of each slot ...
  groupLarge: u32,   // ... plus one for the first out mod R slots
}

// 0 zero pad, 1 tile, 2 contiguous repeat.
override KIND: u32 = 1u;

// MoRA compression backward without rotation, Cᵀ (spec/mora.md §2.5), ADDED into dx (the base layer's
// g·W0 is already there):
//   truncate (Eq. 4):     dx[b, i] += dc[b, i]                                  for i < min(in, R) (columns)
//   modulo sum (Eq. 6):   dx[b, i] += Σ_{p = i + t·in < positions} dc[b, p mod R]   (positions = ceil(in/R)·R)
//   contiguous sum:       dx[b, i] += dc[b, G_in(i)]
//   wrap-padded chunks:   dx[b, i] += Σ_{p = i + t·in < positions} dc[b, p]        (positions = slots)
// dc is (rows·n′, P) in the layout of mora_compress.wgsl (slot p = j·R + k at column j·P + k of its row;
// slots = n′·R, the needed chunks for the chunked compression, see lib/ops/mora/operators.ts); dx is
// (rows, in_features), read and written.
// Bindings: 0 params, 1 dc, 2 dx.
//
// Thread = one column i of dx, looping over ROWS rows; linear workgroup grid as in mora_compress.wgsl.

struct Params {
  rows: u32,
  in_features: u32,
  width: u32,        // columns per row of dc: n′·P
  rank: u32,
  stride: u32,       // P, columns per chunk
  positions: u32,    // wrap-padded positions summed: ceil(in/R)·R (modulo sum), or slots (chunks)
  columns: u32,      // columns written: in_features, or min(R, in_features) for truncate
  col_tiles: u32,
  group_small: u32,  // contiguous sum: floor(in/R) members per group ...
  group_large: u32,  // ... plus one for the first in mod R groups
}

// 0 truncate, 1 modulo sum, 2 contiguous sum, 3 wrap-padded chunks.
override KIND: u32 = 0u;
// Rows per workgroup.
override ROWS: u32 = 8u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> dc: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let tile = wid.x + wid.y * nwg.x;
  let i = (tile % params.col_tiles) * 64u + lid;
  let row0 = (tile / params.col_tiles) * ROWS;
  if (i >= params.columns || row0 >= params.rows) { return; }
  let row_end = min(row0 + ROWS, params.rows);
  let n = params.in_features;
  // Wrap-padded positions of feature i: i, i + in, ... below positions; their slot advances by in mod R.
  var first = i;
  var count = 1u;
  var step = 0u;
  if (KIND == 1u || KIND == 3u) {
    count = (params.positions - i + n - 1u) / n;
    step = select(n, n % params.rank, KIND == 1u);
    first = select(i, i % params.rank, KIND == 1u);
  } else if (KIND == 2u) {
    let big = params.group_small + 1u;
    let split = params.group_large * big;
    first = select(params.group_large + (i - split) / max(params.group_small, 1u), i / big, i < split);
  }
  for (var b = row0; b < row_end; b++) {
    let row = b * params.width;
    var acc = 0.0;
    var slot = first;
    for (var t = 0u; t < count; t++) {
      acc += dc[row + (slot / params.rank) * params.stride + slot % params.rank];
      slot += step;
      if (KIND == 1u && slot >= params.rank) { slot -= params.rank; }
    }
    let j = b * n + i;
    dx[j] = dx[j] + acc;
  }
}

// MoRA compression backward without rotation, Cᵀ (spec/mora.md §2.5), ADDED into dx (the base layer's
// g·W0 is already there):
//   truncate (Eq. 4):     dx[b, i] += dc[b, i]                                  for i < min(in, R) (columns)
//   modulo sum (Eq. 6):   dx[b, i] += Σ_{p = i + t·in < positions} dc[b, p mod R]   (positions = ceil(in/R)·R)
//   contiguous sum:       dx[b, i] += dc[b, G_in(i)]
//   wrap-padded chunks:   dx[b, i] += Σ_{p = i + t·in < positions} dc[b, p]        (positions = slots)
// dc is (rows·n′, P) in the layout of mora_compress.wgsl (slot p = j·R + k at column j·P + k of its row;
// slots = n′·R, the needed chunks for the chunked compression, see lib/ops/mora/operators.ts); dx is
// (rows, inFeatures), read and written.
// Bindings: 0 params, 1 dc, 2 dx.
//
// Thread = one column i of dx, looping over ROWS rows (kernels/mora_tiling.wgsl).

struct Params {
  rows: u32,
  inFeatures: u32,
  width: u32,        // columns per row of dc: n′·P
  rank: u32,
  stride: u32,       // P, columns per chunk
  positions: u32,    // wrap-padded positions summed: ceil(in/R)·R (modulo sum), or slots (chunks)
  columns: u32,      // columns written: inFeatures, or min(R, inFeatures) for truncate
  colTiles: u32,
  groupSmall: u32,  // contiguous sum: floor(in/R) members per group ...
  groupLarge: u32,  // ... plus one for the first in mod R groups
}

// 0 truncate, 1 modulo sum, 2 contiguous sum, 3 wrap-padded chunks.
override KIND: u32 = 0u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> dc: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let t = mora_tile(wid, nwg, lid, params.colTiles, params.rows);
  let i = t.column;
  let row0 = t.row0;
  if (i >= params.columns || row0 >= params.rows) { return; }
  let rowEnd = t.rowEnd;
  let n = params.inFeatures;
  // Wrap-padded positions of feature i: i, i + in, ... below positions; their slot advances by in mod R.
  var first = i;
  var count = 1u;
  var step = 0u;
  if (KIND == 1u || KIND == 3u) {
    count = (params.positions - i + n - 1u) / n;
    step = select(n, n % params.rank, KIND == 1u);
    first = select(i, i % params.rank, KIND == 1u);
  } else if (KIND == 2u) {
    let big = params.groupSmall + 1u;
    let split = params.groupLarge * big;
    first = select(params.groupLarge + (i - split) / max(params.groupSmall, 1u), i / big, i < split);
  }
  for (var b = row0; b < rowEnd; b++) {
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

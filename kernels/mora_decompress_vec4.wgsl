// MoRA decompression f_decomp added into the base layer's output, four output columns per thread: the vec4
// form of mora_decompress.wgsl (same sources, same sums) for out_features a multiple of 4:
//   out[b, o..o+3] += (z[b, D(o)], …, z[b, D(o+3)])     zero where o + c ≥ columns (zero pad past R)
// z is (rows·n′, P) in the layout of mora_compress.wgsl; out is (rows, out_features), read and written.
// ALIGNED = 1 when the decompression is the tile and P = R (z's row is its slots, a multiple of 4 long): the
// four sources are then z[b, o mod slots ..+3], one vec4 load from zv (the same buffer as z).
// Bindings: 0 params, 1 z, 2 zv (z as vec4s), 3 out.
//
// Thread = four output columns (column group t.column of kernels/mora_tiling.wgsl), looping over ROWS rows.

struct Params {
  rows: u32,
  outFeatures: u32,
  slots: u32,        // n′·R, the period of the tile
  width: u32,        // columns per row of z: n′·P
  rank: u32,
  stride: u32,       // P, columns per chunk
  columns: u32,      // columns written: out_features, or min(R, out_features) for zero pad
  colTiles: u32,
  groupSmall: u32,   // contiguous repeat: floor(out/R) copies of each slot ...
  groupLarge: u32,   // ... plus one for the first out mod R slots
}

// 0 zero pad, 1 tile, 2 contiguous repeat.
override KIND: u32 = 1u;
override ALIGNED: u32 = 0u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> z: array<f32>;
@group(0) @binding(2) var<storage, read> zv: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> out: array<vec4f>;

// The column of z that output column o reads (as mora_decompress.wgsl).
fn source_column(o: u32) -> u32 {
  var src = o;
  if (KIND == 1u) {
    src = o % params.slots;
  } else if (KIND == 2u) {
    let big = params.groupSmall + 1u;
    let split = params.groupLarge * big;
    src = select(params.groupLarge + (o - split) / max(params.groupSmall, 1u), o / big, o < split);
  }
  return (src / params.rank) * params.stride + src % params.rank;
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let t = mora_tile(wid, nwg, lid, params.colTiles, params.rows);
  let o = 4u * t.column;
  if (o >= params.columns || t.row0 >= params.rows) { return; }
  // Columns past `columns` (zero pad) read column 0 and add nothing.
  let ok = vec4<bool>(true, o + 1u < params.columns, o + 2u < params.columns, o + 3u < params.columns);
  let c0 = source_column(o);
  let c1 = select(0u, source_column(o + 1u), ok.y);
  let c2 = select(0u, source_column(o + 2u), ok.z);
  let c3 = select(0u, source_column(o + 3u), ok.w);
  let quads = params.outFeatures / 4u;
  for (var b = t.row0; b < t.rowEnd; b++) {
    let row = b * params.width;
    var v: vec4f;
    if (ALIGNED == 1u) {
      v = zv[(row + c0) / 4u];
    } else {
      v = select(vec4f(0.0), vec4f(z[row + c0], z[row + c1], z[row + c2], z[row + c3]), ok);
    }
    let i = b * quads + o / 4u;
    out[i] = out[i] + v;
  }
}

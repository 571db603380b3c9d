// MoRA decompression f_decomp added into the base layer's output, four output columns per thread: the sums
// of kernels/mora_decompress_common.wgsl (its Params and KIND; same sources as mora_decompress.wgsl) for
// out_features a multiple of 4:
//   out[b, o..o+3] += (z[b, D(o)], …, z[b, D(o+3)])     zero where o + c ≥ columns (zero pad past R)
// ALIGNED = 1 when the decompression is the tile and P = R (z's row is its slots, a multiple of 4 long): the
// four sources are then z[b, o mod slots ..+3], one vec4 load from zv (the same buffer as z).
// Bindings: 0 params, 1 z, 2 zv (z as vec4s), 3 out.
//
// Thread = four output columns (column group t.column of kernels/mora_tiling.wgsl), looping over ROWS rows.

override ALIGNED: u32 = 0u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> z: array<f32>;
@group(0) @binding(2) var<storage, read> zv: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> out: array<vec4f>;

// The column of z that output column o reads (as mora_decompress.wgsl).
fn source_column(o: u32) -> u32 {
  {{SOURCE}}
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

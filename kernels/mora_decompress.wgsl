// MoRA decompression f_decomp added into the base layer's output, one output column per thread: the
// sums of kernels/mora_decompress_common.wgsl (its Params and KIND), for every out_features.
// Bindings: 0 params, 1 z, 2 out.
//
// Thread = one output column o, looping over ROWS rows (kernels/mora_tiling.wgsl; the source slot is
// computed once).

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> z: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let t = mora_tile(wid, nwg, lid, params.colTiles, params.rows);
  let o = t.column;
  let row0 = t.row0;
  if (o >= params.columns || row0 >= params.rows) { return; }
  let rowEnd = t.rowEnd;
  {{SOURCE}}
  let column = (src / params.rank) * params.stride + src % params.rank;
  for (var b = row0; b < rowEnd; b++) {
    let i = b * params.outFeatures + o;
    out[i] = out[i] + z[b * params.width + column];
  }
}

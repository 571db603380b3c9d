// MoRA compression backward without rotation, one column of dx per thread: the sums of
// kernels/mora_compress_backward_common.wgsl (its Params, KIND, bindings 0, 1, members and member_sum), for
// every in_features.
// Bindings: 0 params, 1 dc, 2 dx.
//
// Thread = one column i of dx, looping over ROWS rows (kernels/mora_tiling.wgsl).

@group(0) @binding(2) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let t = mora_tile(wid, nwg, lid, params.colTiles, params.rows);
  let i = t.column;
  let row0 = t.row0;
  if (i >= params.columns || row0 >= params.rows) { return; }
  let m = members(i);
  for (var b = row0; b < t.rowEnd; b++) {
    let j = b * params.inFeatures + i;
    dx[j] = dx[j] + member_sum(b * params.width, m);
  }
}

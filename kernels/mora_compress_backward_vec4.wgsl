// MoRA compression backward without rotation, four columns of dx per thread: the sums of
// kernels/mora_compress_backward_common.wgsl (its Params, KIND, bindings 0, 1, members and member_sum; the
// same sums as mora_compress_backward.wgsl) for in_features a multiple of 4:
//   dx[b, i..i+3] += (Σ_{members of i} dc[b, ·], …)    nothing for columns past `columns`
// Bindings: 0 params, 1 dc, 2 dx (as vec4s).
//
// Thread = four columns of dx (column group t.column of kernels/mora_tiling.wgsl), looping over ROWS rows.

@group(0) @binding(2) var<storage, read_write> dx: array<vec4f>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let t = mora_tile(wid, nwg, lid, params.colTiles, params.rows);
  let i = 4u * t.column;
  if (i >= params.columns || t.row0 >= params.rows) { return; }
  let m0 = members(i);
  let m1 = members(i + 1u);
  let m2 = members(i + 2u);
  let m3 = members(i + 3u);
  let quads = params.inFeatures / 4u;
  for (var b = t.row0; b < t.rowEnd; b++) {
    let row = b * params.width;
    let acc = vec4f(member_sum(row, m0), member_sum(row, m1), member_sum(row, m2), member_sum(row, m3));
    let j = b * quads + i / 4u;
    dx[j] = dx[j] + acc;
  }
}

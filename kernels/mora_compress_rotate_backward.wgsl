// MoRA rotation compression backward, one column of dx per thread: the sums of
// kernels/mora_compress_rotate_backward_common.wgsl (its Params), for every in_features.
// Bindings: 0 params, 1 dc, 2 cos, 3 sin, 4 dx.
//
// Thread = one column i of dx, looping over ROWS rows (kernels/mora_tiling.wgsl), one accumulator a row
// (kernels/mora_row_accumulators.wgsl).

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> dc: array<f32>;
@group(0) @binding(2) var<storage, read> cosTable: array<f32>;
@group(0) @binding(3) var<storage, read> sinTable: array<f32>;
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let t = mora_tile(wid, nwg, lid, params.colTiles, params.rows);
  let i = t.column;
  let row0 = t.row0;
  if (i >= params.inFeatures || row0 >= params.rows) { return; }
  let rowEnd = t.rowEnd;
  let n = params.inFeatures;
  let half = params.rank / 2u;
  // Terms outer, rows inner: each wrap-padded position's coefficients are loaded once per thread.
  var acc: array<f32, MAX_ROWS>;
  var k = i % params.rank;  // p mod R, advanced by in mod R
  for (var p = i; p < params.slots; p += n) {
    let low = k < half;
    let partner = select(p - half, p + half, low);
    let cos_p = cosTable[p];
    let partner_sin = select(-sinTable[partner], sinTable[partner], low);
    let column = (p / params.rank) * params.stride + k;
    let partner_column = select(column - half, column + half, low);
    for (var r = 0u; r < rowEnd - row0; r++) {
      let row = (row0 + r) * params.width;
      acc[r] += cos_p * dc[row + column] + partner_sin * dc[row + partner_column];
    }
    k += n % params.rank;
    if (k >= params.rank) { k -= params.rank; }
  }
  for (var r = 0u; r < rowEnd - row0; r++) {
    let j = (row0 + r) * n + i;
    dx[j] = dx[j] + acc[r];
  }
}

// MoRA rotation compression, one column of u per thread: the products of
// kernels/mora_compress_rotate_common.wgsl (its Params), for every in_features.
// With TRANSPOSED = 1, u is written as its transpose (P, rows·n′) instead (mora_compressed_column).
// Bindings: 0 params, 1 x, 2 cos, 3 sin, 4 u.
//
// Thread = one column q of u's row, looping over ROWS rows (kernels/mora_tiling.wgsl).

// 1: write the compressed values transposed, (P, rows·n′) (the backward's ∂M = (cᵀ·dz)ᵀ reads them so).
override TRANSPOSED: u32 = 0u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> cosTable: array<f32>;
@group(0) @binding(3) var<storage, read> sinTable: array<f32>;
@group(0) @binding(4) var<storage, read_write> u: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let t = mora_tile(wid, nwg, lid, params.colTiles, params.rows);
  let q = t.column;
  let row0 = t.row0;
  if (q >= params.width || row0 >= params.rows) { return; }
  let rowEnd = t.rowEnd;
  let column = mora_compressed_column(q, params.rows, params.width, params.stride, TRANSPOSED == 1u);
  let k = q % params.stride;
  if (k >= params.rank) {  // padding column
    for (var b = row0; b < rowEnd; b++) { u[column.start + b * column.step] = 0.0; }
    return;
  }
  let p = (q / params.stride) * params.rank + k;
  let half = params.rank / 2u;
  let low = k < half;
  let partner = select(p - half, p + half, low);
  let src = p % params.inFeatures;
  let partner_src = partner % params.inFeatures;
  let cos_p = cosTable[p];
  let sin_p = select(sinTable[p], -sinTable[p], low);
  for (var b = row0; b < rowEnd; b++) {
    let xrow = b * params.inFeatures;
    u[column.start + b * column.step] = cos_p * x[xrow + src] + sin_p * x[xrow + partner_src];
  }
}

// MoRA decompression backward, the fold Dᵀ, one slot of dz per thread: the sums of
// kernels/mora_decompress_backward_common.wgsl (its Params and KIND), for every out_features.
// Bindings: 0 params, 1 dout, 2 dz.
//
// Thread = one column q of dz's row, looping over ROWS rows (kernels/mora_tiling.wgsl).

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> dout: array<f32>;
@group(0) @binding(2) var<storage, read_write> dz: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let t = mora_tile(wid, nwg, lid, params.colTiles, params.rows);
  let q = t.column;
  let row0 = t.row0;
  if (q >= params.width || row0 >= params.rows) { return; }
  let rowEnd = t.rowEnd;
  let k = q % params.stride;
  let s = (q / params.stride) * params.rank + k;
  // Members: first, first + step, ... (count of them).
  var first = s;
  var step = params.slots;
  var count = 0u;
  if (KIND == 0u) {
    count = select(0u, 1u, s < params.outFeatures);
  } else if (KIND == 1u) {
    count = select(0u, (params.outFeatures - s + params.slots - 1u) / params.slots, s < params.outFeatures);
  } else {
    let big = params.groupSmall + 1u;
    first = select(params.groupLarge * big + (s - params.groupLarge) * params.groupSmall, s * big,
                   s < params.groupLarge);
    count = select(params.groupSmall, big, s < params.groupLarge);
    step = 1u;
  }
  if (k >= params.rank) { count = 0u; }  // padding column
  for (var b = row0; b < rowEnd; b++) {
    let row = b * params.outFeatures;
    var acc = 0.0;
    for (var t = 0u; t < count; t++) {
      acc += dout[row + first + t * step];
    }
    dz[b * params.width + q] = acc;
  }
}

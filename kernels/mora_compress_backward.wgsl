// MoRA compression backward without rotation, one column of dx per thread: the sums of
// kernels/mora_compress_backward_common.wgsl (its Params, KIND and bindings 0, 1), for every in_features.
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

// MoRA compression backward without rotation, four columns of dx per thread: the sums of
// kernels/mora_compress_backward_common.wgsl (its Params, KIND and bindings 0, 1; same members, summed in
// the same order, as mora_compress_backward.wgsl) for in_features a multiple of 4:
//   dx[b, i..i+3] += (Σ_{members of i} dc[b, ·], …)    nothing for columns past `columns`
// Bindings: 0 params, 1 dc, 2 dx (as vec4s).
//
// Thread = four columns of dx (column group t.column of kernels/mora_tiling.wgsl), looping over ROWS rows.

@group(0) @binding(2) var<storage, read_write> dx: array<vec4f>;

// The slots feature i reads: first, then advancing by step (modulo R for the modulo sum), count of them.
struct Members {
  first: u32,
  step: u32,
  count: u32,
}

fn members(i: u32) -> Members {
  if (i >= params.columns) { return Members(0u, 0u, 0u); }
  let n = params.inFeatures;
  var m = Members(i, 0u, 1u);
  if (KIND == 1u || KIND == 3u) {
    // Wrap-padded positions i, i + in, ... below positions; their slot advances by in mod R.
    m.count = (params.positions - i + n - 1u) / n;
    m.step = select(n, n % params.rank, KIND == 1u);
    m.first = select(i, i % params.rank, KIND == 1u);
  } else if (KIND == 2u) {
    let big = params.groupSmall + 1u;
    let split = params.groupLarge * big;
    m.first = select(params.groupLarge + (i - split) / max(params.groupSmall, 1u), i / big, i < split);
  }
  return m;
}

fn member_sum(row: u32, m: Members) -> f32 {
  var acc = 0.0;
  var slot = m.first;
  for (var member = 0u; member < m.count; member++) {
    acc += dc[row + (slot / params.rank) * params.stride + slot % params.rank];
    slot += m.step;
    if (KIND == 1u && slot >= params.rank) { slot -= params.rank; }
  }
  return acc;
}

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

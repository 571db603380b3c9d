// MoRA decompression backward, the fold Dᵀ, four slots of dz per thread: the sums of
// kernels/mora_decompress_backward_common.wgsl (its Params and KIND; same members, in the same order, as
// mora_decompress_backward.wgsl) for out_features a multiple of 4:
//   dz[b, q..q+3] = (Σ_{o: D(o) = s(q)} dout[b, o], …)      zero in the padding columns k ≥ R
// ALIGNED = 1 when the decompression is the tile and P = R: the members of slots q..q+3 are then the vec4s
// dout[b, q + t·slots ..+3], loaded from doutv (the same buffer as dout).
// Bindings: 0 params, 1 dout, 2 doutv (dout as vec4s), 3 dz.
//
// Thread = four columns of dz's row (column group t.column of kernels/mora_tiling.wgsl), looping over ROWS
// rows.

override ALIGNED: u32 = 0u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> dout: array<f32>;
@group(0) @binding(2) var<storage, read> doutv: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> dz: array<vec4f>;

// The members of the slot at column q of dz's row: first, first + step, ... (count of them).
struct Members {
  first: u32,
  step: u32,
  count: u32,
}

fn members(q: u32) -> Members {
  let k = q % params.stride;
  let s = (q / params.stride) * params.rank + k;
  var m = Members(s, params.slots, 0u);
  if (KIND == 0u) {
    m.count = select(0u, 1u, s < params.outFeatures);
  } else if (KIND == 1u) {
    m.count = select(0u, (params.outFeatures - s + params.slots - 1u) / params.slots, s < params.outFeatures);
  } else {
    let big = params.groupSmall + 1u;
    m.first = select(params.groupLarge * big + (s - params.groupLarge) * params.groupSmall, s * big,
                     s < params.groupLarge);
    m.count = select(params.groupSmall, big, s < params.groupLarge);
    m.step = 1u;
  }
  if (k >= params.rank) { m.count = 0u; }  // padding column
  return m;
}

fn member_sum(row: u32, m: Members) -> f32 {
  var acc = 0.0;
  for (var t = 0u; t < m.count; t++) {
    acc += dout[row + m.first + t * m.step];
  }
  return acc;
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let t = mora_tile(wid, nwg, lid, params.colTiles, params.rows);
  let q = 4u * t.column;
  if (q >= params.width || t.row0 >= params.rows) { return; }
  let m0 = members(q);
  let m1 = members(q + 1u);
  let m2 = members(q + 2u);
  let m3 = members(q + 3u);
  for (var b = t.row0; b < t.rowEnd; b++) {
    let row = b * params.outFeatures;
    var acc = vec4f(0.0);
    if (ALIGNED == 1u) {
      for (var i = 0u; i < m0.count; i++) {
        acc += doutv[(row + m0.first + i * m0.step) / 4u];
      }
    } else {
      acc = vec4f(member_sum(row, m0), member_sum(row, m1), member_sum(row, m2), member_sum(row, m3));
    }
    dz[(b * params.width + q) / 4u] = acc;
  }
}

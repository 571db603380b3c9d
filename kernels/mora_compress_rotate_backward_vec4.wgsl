// MoRA rotation compression backward, four columns of dx per thread: the sums of
// kernels/mora_compress_rotate_backward_common.wgsl (its Params; same terms, summed in the same order, as
// mora_compress_rotate_backward.wgsl) for in_features a multiple of 4:
//   dx[b, i..i+3] += Σ_{t: p = i + t·in < slots} (dv[b, p], …, dv[b, p + 3])     (components past slots add 0)
// With ALIGNED (kernels/mora_rotate_vec4_loads.wgsl), the four positions p..p+3 are one vec4 of dcv (the
// same buffer as dc); with PARTNER_ALIGNED, so are their partners.
// Bindings: 0 params, 1 dc, 2 dcv (dc as vec4s), 3 cos, 4 sin, 5 dx.
//
// Thread = four columns of dx (column group t.column of kernels/mora_tiling.wgsl), looping over ROWS rows,
// one accumulator a row (kernels/mora_row_accumulators.wgsl).

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> dc: array<f32>;
@group(0) @binding(2) var<storage, read> dcv: array<vec4f>;
@group(0) @binding(3) var<storage, read> cosTable: array<f32>;
@group(0) @binding(4) var<storage, read> sinTable: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<vec4f>;

// Where wrap-padded position p reads dc, its partner, and their coefficients (zeros past the slots).
struct Term {
  column: u32,
  partnerColumn: u32,
  cosine: f32,
  partnerSine: f32,
}

fn term(p: u32) -> Term {
  if (p >= params.slots) { return Term(0u, 0u, 0.0, 0.0); }
  let half = params.rank / 2u;
  let k = p % params.rank;
  let low = k < half;
  let partner = select(p - half, p + half, low);
  let column = (p / params.rank) * params.stride + k;
  return Term(column, select(column - half, column + half, low), cosTable[p],
              select(-sinTable[partner], sinTable[partner], low));
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let t = mora_tile(wid, nwg, lid, params.colTiles, params.rows);
  let i = 4u * t.column;
  let n = params.inFeatures;
  if (i >= min(n, params.slots) || t.row0 >= params.rows) { return; }
  // Terms outer, rows inner: each position's coefficients are loaded once per thread.
  var acc: array<vec4f, MAX_ROWS>;
  for (var p = i; p < params.slots; p += n) {
    let t0 = term(p);
    let t1 = term(p + 1u);
    let t2 = term(p + 2u);
    let t3 = term(p + 3u);
    let cosines = vec4f(t0.cosine, t1.cosine, t2.cosine, t3.cosine);
    let partnerSines = vec4f(t0.partnerSine, t1.partnerSine, t2.partnerSine, t3.partnerSine);
    let valid = p + vec4u(0u, 1u, 2u, 3u) < vec4u(params.slots);
    for (var r = 0u; r < t.rowEnd - t.row0; r++) {
      let row = (t.row0 + r) * params.width;
      var main: vec4f;
      var partner: vec4f;
      if (ALIGNED == 1u) {
        main = dcv[(row + t0.column) / 4u];
      } else {
        main = vec4f(dc[row + t0.column], dc[row + t1.column], dc[row + t2.column], dc[row + t3.column]);
      }
      if (PARTNER_ALIGNED == 1u) {
        partner = dcv[(row + t0.partnerColumn) / 4u];
      } else {
        partner = vec4f(dc[row + t0.partnerColumn], dc[row + t1.partnerColumn], dc[row + t2.partnerColumn],
                        dc[row + t3.partnerColumn]);
      }
      acc[r] += select(vec4f(0.0), cosines * main + partnerSines * partner, valid);
    }
  }
  for (var r = 0u; r < t.rowEnd - t.row0; r++) {
    let j = (t.row0 + r) * (n / 4u) + i / 4u;
    dx[j] = dx[j] + acc[r];
  }
}

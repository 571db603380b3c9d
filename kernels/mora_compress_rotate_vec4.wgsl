// MoRA rotation compression, four columns of u per thread: the products of
// kernels/mora_compress_rotate_common.wgsl (its Params; same products as mora_compress_rotate.wgsl,
// row-major layout only) for in_features a multiple of 4, zeros in the columns k ≥ R. With ALIGNED
// (kernels/mora_rotate_vec4_loads.wgsl), the four sources of columns q..q+3 are one vec4 of xv (the same
// buffer as x); with PARTNER_ALIGNED, so are their partners.
// Bindings: 0 params, 1 x, 2 xv (x as vec4s), 3 cos, 4 sin, 5 u.
//
// Thread = four columns of u's row (column group t.column of kernels/mora_tiling.wgsl), looping over ROWS
// rows.

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> xv: array<vec4f>;
@group(0) @binding(3) var<storage, read> cosTable: array<f32>;
@group(0) @binding(4) var<storage, read> sinTable: array<f32>;
@group(0) @binding(5) var<storage, read_write> u: array<vec4f>;

// Where column q of u's row reads x, its partner, and their coefficients (zeros in a padding column).
struct Term {
  source: u32,
  partnerSource: u32,
  cosine: f32,
  sine: f32,
}

fn term(q: u32) -> Term {
  let k = q % params.stride;
  if (k >= params.rank) { return Term(0u, 0u, 0.0, 0.0); }
  let p = (q / params.stride) * params.rank + k;
  let half = params.rank / 2u;
  let low = k < half;
  let partner = select(p - half, p + half, low);
  let n = params.inFeatures;
  return Term(p % n, partner % n, cosTable[p], select(sinTable[p], -sinTable[p], low));
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let t = mora_tile(wid, nwg, lid, params.colTiles, params.rows);
  let q = 4u * t.column;
  if (q >= params.width || t.row0 >= params.rows) { return; }
  let t0 = term(q);
  let t1 = term(q + 1u);
  let t2 = term(q + 2u);
  let t3 = term(q + 3u);
  let cosines = vec4f(t0.cosine, t1.cosine, t2.cosine, t3.cosine);
  let sines = vec4f(t0.sine, t1.sine, t2.sine, t3.sine);
  let valid = (q + vec4u(0u, 1u, 2u, 3u)) % params.stride < vec4u(params.rank);
  for (var b = t.row0; b < t.rowEnd; b++) {
    let xrow = b * params.inFeatures;
    var source: vec4f;
    var partner: vec4f;
    if (ALIGNED == 1u) {
      source = xv[(xrow + t0.source) / 4u];
    } else {
      source = vec4f(x[xrow + t0.source], x[xrow + t1.source], x[xrow + t2.source], x[xrow + t3.source]);
    }
    if (PARTNER_ALIGNED == 1u) {
      partner = xv[(xrow + t0.partnerSource) / 4u];
    } else {
      partner = vec4f(x[xrow + t0.partnerSource], x[xrow + t1.partnerSource], x[xrow + t2.partnerSource],
                      x[xrow + t3.partnerSource]);
    }
    u[(b * params.width + q) / 4u] = select(vec4f(0.0), cosines * source + sines * partner, valid);
  }
}

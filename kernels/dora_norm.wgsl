// DoRA's per-output-row weight norm and magnitude coefficient (spec baselines §8), without materializing
// B·A: for output row i, n_i = ‖W0[i,:] + s·(B·A)[i,:]‖₂ and c_i = m_i / n_i.
// w0 is (out, in); a is (r, in); b is (out, r); magnitude m is (out);
// norm (out) and coef (out) are written. One workgroup of WG threads per row: each thread sums a strided
// slice of the row's squares (the inner loop over r rebuilds (B·A)[i,j] on the fly), then workgroup_sum's
// fixed-order tree adds the slices — deterministic.

struct Params {
  outFeatures: u32,
  inFeatures: u32,
  rank: u32,
  scale: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> w0: array<f32>;
@group(0) @binding(2) var<storage, read> a: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read> magnitude: array<f32>;
@group(0) @binding(5) var<storage, read_write> norm: array<f32>;
@group(0) @binding(6) var<storage, read_write> coef: array<f32>;

const WG: u32 = 64u;

// workgroup_sum(lid, value): kernels/workgroup_sum.wgsl, a piece of this template.

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = wid.x + wid.y * nwg.x;
  if (i >= params.outFeatures) { return; }
  let n_in = params.inFeatures;
  var sum = 0.0;
  for (var j = lid; j < n_in; j += WG) {
    var ba = 0.0;
    for (var k = 0u; k < params.rank; k++) {
      ba += b[i * params.rank + k] * a[k * n_in + j];
    }
    let v = w0[i * n_in + j] + params.scale * ba;
    sum += v * v;
  }
  let total = workgroup_sum(lid, sum);
  if (lid == 0u) {
    let n = sqrt(total);
    norm[i] = n;
    coef[i] = magnitude[i] / n;
  }
}

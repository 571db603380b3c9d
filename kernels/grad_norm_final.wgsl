// Gradient global norm, pass 2: one workgroup sums every partial sum of squares in a fixed order.
// partials is (count) f32 from grad_norm_partial.wgsl; out is (2):
//   out[0] = ‖g‖₂ = sqrt(Σ partials),
//   out[1] = clip coefficient = min(1, maxNorm / (‖g‖₂ + 1e-6)) (torch clip_grad_norm_), or 1 when
//            clipping is off (maxNorm = Infinity on the host, passed as clipEnabled = 0).
// Bindings: 0 params {count, clipEnabled, maxNorm}, 1 partials, 2 out.

struct Params {
  count: u32,
  clipEnabled: u32,
  maxNorm: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> partials: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

const WG: u32 = 256u;

// One partial sum per thread, then folded by workgroup_sum (kernels/workgroup_sum.wgsl, prepended).

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32) {
  // Thread lid sums partials lid, lid + WG, ... (all tensors' regions alike, in index order).
  var s = 0.0;
  for (var k = lid; k < params.count; k += WG) { s += partials[k]; }
  let total = workgroup_sum(lid, s);
  if (lid == 0u) {
    let norm = sqrt(total);
    out[0] = norm;
    let coefficient = min(1.0, params.maxNorm / (norm + 1e-6));
    out[1] = select(1.0, coefficient, params.clipEnabled != 0u);
  }
}

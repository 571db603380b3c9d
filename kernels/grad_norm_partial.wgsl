// Gradient global norm, pass 1: partial sums of squares of one gradient tensor.
// grad is (n) f32; partials is (total) f32, of which this tensor owns the region
// [offset, offset + num_workgroups): workgroup w writes Σ grad[j]² over its grid-strided slice.
// Bindings: 0 params {n, offset}, 1 grad, 2 partials (out). 1-D grid of at most a few thousand
// workgroups (lib/ops/grad_norm.ts caps it), so no 2-D indexing is needed.

struct Params {
  n: u32,
  offset: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> partials: array<f32>;

const WG: u32 = 256u;

// One partial sum per thread, then folded by workgroup_sum (kernels/workgroup_sum.wgsl, prepended).

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  // Thread (w, lid) reads j = w·WG + lid, then strides by the whole grid: a fixed assignment,
  // so the sum order (and the bits) depend only on n and the workgroup count.
  let stride = nwg.x * WG;
  var s = 0.0;
  for (var j = wid.x * WG + lid; j < params.n; j += stride) {
    let g = grad[j];
    s += g * g;
  }
  let total = workgroup_sum(lid, s);
  if (lid == 0u) { partials[params.offset + wid.x] = total; }
}

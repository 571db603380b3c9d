// Shared piece: the workgroup logsumexp of online-softmax pairs (lib/ops/pieces.ts). Kernels that list
// it declare `WG`, their threads per workgroup, a power of two.
//
// run_max[t], run_sum[t]: slot t's pair (m, s), standing for s·e^m = Σ e^x over the values it merged.
var<workgroup> run_max: array<f32, WG>;
var<workgroup> run_sum: array<f32, WG>;

// log Σ e^x over the workgroup, from each thread's pair (max m of its values, s = Σ e^(x − m)), merged
// in a fixed tree: (m1, s1) ⊕ (m2, s2) = (M, s1·e^(m1−M) + s2·e^(m2−M)) with M = max(m1, m2), thread
// lid < stride folding in slot lid + stride, stride = WG/2, ..., 1. Same bits on every run; every thread
// gets the result, M + log(s), finite when some s ≥ 1. Must be called in workgroup-uniform control flow.
fn workgroup_logsumexp(lid: u32, m: f32, s: f32) -> f32 {
  run_max[lid] = m;
  run_sum[lid] = s;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) {
      let m1 = run_max[lid];
      let m2 = run_max[lid + stride];
      let top = max(m1, m2);
      run_sum[lid] = run_sum[lid] * exp(m1 - top) + run_sum[lid + stride] * exp(m2 - top);
      run_max[lid] = top;
    }
    workgroupBarrier();
  }
  let total = run_max[0] + log(run_sum[0]);
  // Nobody may overwrite the slots before every thread has read the result.
  workgroupBarrier();
  return total;
}

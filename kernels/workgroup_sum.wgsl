// Shared piece: the workgroup tree sum (lib/ops/pieces.ts). Kernels that list it declare `WG`, their
// threads per workgroup, a power of two.
//
// partial[t] is thread t's share of the sum being reduced.
var<workgroup> partial: array<f32, WG>;

// Sums `value` over the workgroup's threads in a fixed tree (thread lid < stride adds slot lid + stride,
// stride = WG/2, WG/4, ..., 1), so the bits are the same on every run; every thread gets the total. Must
// be called in workgroup-uniform control flow (it holds barriers).
fn workgroup_sum(lid: u32, value: f32) -> f32 {
  partial[lid] = value;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) { partial[lid] += partial[lid + stride]; }
    workgroupBarrier();
  }
  let total = partial[0];
  // Nobody may overwrite partial[] (say, for the next row) before every thread has read the total.
  workgroupBarrier();
  return total;
}

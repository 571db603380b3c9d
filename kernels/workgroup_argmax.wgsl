// Shared piece: the workgroup argmax (lib/ops/pieces.ts). Kernels that list it declare `WG`, their
// threads per workgroup, a power of two.
//
// best_value[t], best_index[t]: the best candidate seen so far by slot t.
var<workgroup> best_value: array<f32, WG>;
var<workgroup> best_index: array<u32, WG>;

// The index no candidate has: a thread that saw nothing passes it, and it never wins.
const NO_INDEX: u32 = 0xffffffffu;

// The index of the largest `value` over the workgroup's threads, the lowest index on ties (torch.argmax),
// NO_INDEX when no thread has a candidate. A fixed tree (thread lid < stride takes slot lid + stride when
// it is better, stride = WG/2, ..., 1), so the result is the same on every run; every thread gets it. Must
// be called in workgroup-uniform control flow (it holds barriers).
fn workgroup_argmax(lid: u32, value: f32, index: u32) -> u32 {
  best_value[lid] = value;
  best_index[lid] = index;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) {
      let ov = best_value[lid + stride];
      let oi = best_index[lid + stride];
      let take = oi != NO_INDEX && (ov > best_value[lid] || (ov == best_value[lid] && oi < best_index[lid])
        || best_index[lid] == NO_INDEX);
      if (take) { best_value[lid] = ov; best_index[lid] = oi; }
    }
    workgroupBarrier();
  }
  let best = best_index[0];
  // Nobody may overwrite the slots before every thread has read the result.
  workgroupBarrier();
  return best;
}

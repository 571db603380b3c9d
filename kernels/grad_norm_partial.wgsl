// Gradient global norm, pass 1: partial sums of squares of several gradient tensors in one dispatch.
// This file is a template (lib/gpu/template.ts): lib/ops/grad_norm.ts fills {{COUNT}} (tensors in the
// dispatch), {{BINDINGS}} (their bindings) and {{CASES}} (one switch case per tensor), since WGSL cannot
// index a binding by a runtime number.
// grad_k is (n_k) f32; partials is (total) f32, of which tensor k owns the region
// [firstPartial_k, firstPartial_k + workgroups_k): its workgroup w (dispatch workgroup
// firstWorkgroup_k + w) writes Σ grad_k[j]² over its grid-strided slice into partial firstPartial_k + w.
// Bindings: 0 params {tensors[k] = (n, firstWorkgroup, workgroups, firstPartial)}, 1 partials (out), then
// grad_k at 2 + k. 1-D grid of at most a few ten thousand workgroups (lib/ops/grad_norm.ts caps it).

struct Params {
  tensors: array<vec4u, {{COUNT}}>,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> partials: array<f32>;
{{BINDINGS}}

// Threads per workgroup, a power of two (specialized per device: lib/ops/grad_norm.ts).
override WG: u32 = 256;

// One partial sum per thread, then folded by workgroup_sum (kernels/workgroup_sum.wgsl, prepended).

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  // The tensor of workgroup wid.x: the last one whose first workgroup is at or before it.
  var k = 0u;
  for (var j = 1u; j < {{COUNT}}u; j++) {
    if (wid.x >= params.tensors[j].y) { k = j; }
  }
  let t = params.tensors[k];
  let w = wid.x - t.y;
  // Thread (w, lid) of the tensor reads j = w·WG + lid, then strides by the tensor's whole grid: a
  // fixed assignment, so the sum order (and the bits) depend only on n and the tensor's workgroup count.
  let j0 = w * WG + lid;
  let stride = t.z * WG;
  var s = 0.0;
  switch k {
    {{CASES}}
    default: {}
  }
  let total = workgroup_sum(lid, s);
  if (lid == 0u) { partials[t.w + w] = total; }
}

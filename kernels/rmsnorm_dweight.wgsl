// RMSNorm backward, pass 2 of 2: dweight[i] = Σ_g partials[g, i], summed over g in order.
// partials is (groups, dim) from rmsnorm_backward.wgsl; dweight is (dim), overwritten.
// Bindings: 0 params, 1 partials, 2 dweight. One thread per column.

struct Params {
  groups: u32,
  dim: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> partials: array<f32>;
@group(0) @binding(2) var<storage, read_write> dweight: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * 64u + lid;
  if (i >= params.dim) { return; }
  // Adjacent threads read adjacent columns of each group's row: coalesced.
  var sum = 0.0;
  for (var g = 0u; g < params.groups; g++) {
    sum += partials[g * params.dim + i];
  }
  dweight[i] = sum;
}

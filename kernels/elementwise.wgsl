// Elementwise y = alpha·a + beta·b over n values (add: alpha = beta = 1; scale: b unused, beta = 0).
// a, b, y are (n) float32. One thread per value; the grid is 2-D when n/256 exceeds the
// per-dimension workgroup limit (see lib/gpu/kernel.ts `grid`).

struct Params {
  n: u32,
  alpha: f32,
  beta: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * 256u + lid;
  if (i >= params.n) { return; }
  y[i] = params.alpha * a[i] + params.beta * b[i];
}

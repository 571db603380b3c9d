// In-place scaled add: y = alpha·x + beta·y over n values (beta = 0 overwrites y without reading it, so
// stale or non-finite contents never leak in). x, y are (n) float32; one thread per value, 2-D grid beyond
// the per-dimension workgroup limit (lib/gpu/kernel.ts `grid`).

struct Params {
  n: u32,
  alpha: f32,
  beta: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * 256u + lid;
  if (i >= params.n) { return; }
  var value = params.alpha * x[i];
  if (params.beta != 0.0) { value += params.beta * y[i]; }
  y[i] = value;
}

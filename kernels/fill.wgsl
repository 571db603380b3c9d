// Fills y (n float32 values) with one value: y[i] = value. One thread per value; the grid is 2-D when
// n/256 exceeds the per-dimension workgroup limit (see lib/gpu/kernel.ts `grid`).

struct Params {
  n: u32,
  value: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * 256u + lid;
  if (i >= params.n) { return; }
  y[i] = params.value;
}

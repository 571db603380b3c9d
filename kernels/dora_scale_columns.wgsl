// Scales every column of a (rows, cols) matrix by a per-column factor: y[t, i] = x[t, i] · (coef[i] + offset).
// DoRA uses it for y = U·diag(c) in the forward pass and Ĝ = G·diag(c) in the backward pass (offset 0), and
// for G·diag(c − 1) in the backward pass with input dropout (offset −1).
// x, y are (rows, cols); coef is (cols). One thread per value.

struct Params {
  rows: u32,
  cols: u32,
  offset: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> coef: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let idx = (wid.x + wid.y * nwg.x) * 256u + lid;
  if (idx >= params.rows * params.cols) { return; }
  y[idx] = x[idx] * (coef[idx % params.cols] + params.offset);
}

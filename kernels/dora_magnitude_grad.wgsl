// Gradient of DoRA's magnitude vector with the detached norm (spec baselines §8):
// ∂L/∂m_i = (Σ_t G[t,i]·U[t,i]) / n_i, where U = x·W0ᵀ + s·x·Aᵀ·Bᵀ is the unscaled output.
// g, u are (rows, cols); norm and dm are (cols). One thread per column sums over rows in order
// (deterministic); consecutive threads read consecutive columns.

struct Params {
  rows: u32,
  cols: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> u: array<f32>;
@group(0) @binding(3) var<storage, read> norm: array<f32>;
@group(0) @binding(4) var<storage, read_write> dm: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  if (i >= params.cols) { return; }
  var sum = 0.0;
  for (var t = 0u; t < params.rows; t++) {
    sum += g[t * params.cols + i] * u[t * params.cols + i];
  }
  dm[i] = sum / norm[i];
}

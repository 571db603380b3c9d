// RMSNorm forward (Hugging Face LLaMA semantics, float32):
//   rstd[r]   = 1 / sqrt(mean_i x[r, i]² + eps)
//   out[r, i] = weight[i] · (x[r, i] · rstd[r])
// x, out are (rows, dim); weight is (dim); rstd is (rows), the cache the backward reads.
// Bindings: 0 params, 1 x, 2 weight, 3 out, 4 rstd.
//
// One workgroup of WG threads per row (the grid is 2-D past the per-dimension limit; see
// lib/gpu/kernel.ts `grid`). Thread `lid` owns columns lid, lid + WG, ...; the row's sum of squares
// is a tree reduction in workgroup memory, in a fixed order, so results are deterministic.

struct Params {
  rows: u32,
  dim: u32,
  eps: f32,
}

// Threads per workgroup; a power of two (the tree reduction halves it).
override WG: u32 = 64;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read_write> rstd: array<f32>;

// workgroup_sum(lid, value): kernels/workgroup_sum.wgsl, a piece of this template.

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= params.rows) { return; }
  let dim = params.dim;
  let base = row * dim;

  // Σ_i x[row, i]², strided over the threads, then reduced.
  var squares = 0.0;
  for (var i = lid; i < dim; i += WG) {
    let v = x[base + i];
    squares += v * v;
  }
  let total = workgroup_sum(lid, squares);
  let r = inverseSqrt(total / f32(dim) + params.eps);
  if (lid == 0u) { rstd[row] = r; }

  // Normalize, then scale by the gain, in HF's order: weight · (x · rstd).
  for (var i = lid; i < dim; i += WG) {
    out[base + i] = weight[i] * (x[base + i] * r);
  }
}

// RMSNorm backward, pass 1 of 2: dx, and per-group partial sums of dweight.
// With out[r, i] = w[i] · x[r, i] · rstd[r] and rstd[r] = (Σ_k x[r, k]² / dim + eps)^(-1/2):
//   dx[r, j]  = rstd[r] · w[j] · dout[r, j] − (rstd[r]³ / dim) · x[r, j] · Σ_i dout[r, i] · w[i] · x[r, i]
//   dweight[i] = Σ_r dout[r, i] · x[r, i] · rstd[r]
// dout, x, dx are (rows, dim); weight is (dim); rstd is (rows);
// partials is (groups, dim) with groups = ceil(rows / rowsPerGroup).
// Bindings: 0 params, 1 dout, 2 x, 3 weight, 4 rstd, 5 dx, 6 partials.
//
// Workgroup g handles rows [g·rowsPerGroup, (g + 1)·rowsPerGroup). For each row, its WG threads
// reduce the dot product in workgroup memory (fixed order), then write dx. Afterwards thread `lid`
// sums its columns (lid, lid + WG, ...) of dout·x·rstd over the group's rows, in row order, into
// partials[g, :]; rmsnorm_dweight.wgsl adds the groups up. No atomics, so the result is deterministic.

struct Params {
  rows: u32,
  dim: u32,
  rowsPerGroup: u32,
}

// Threads per workgroup; a power of two (the tree reduction halves it).
override WG: u32 = 64;
// true: dx += the gradient (residual stream); false: dx = the gradient.
override ACCUMULATE_DX: bool = false;
// false when the gain is frozen: partials are then neither needed nor written.
override WITH_DWEIGHT: bool = true;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> dout: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> weight: array<f32>;
@group(0) @binding(4) var<storage, read> rstd: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;
@group(0) @binding(6) var<storage, read_write> partials: array<f32>;

// workgroup_sum(lid, value): kernels/workgroup_sum.wgsl, a piece of this template.

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let group = wid.x + wid.y * nwg.x;
  let first = group * params.rowsPerGroup;
  if (first >= params.rows) { return; }
  let end = min(first + params.rowsPerGroup, params.rows);
  let dim = params.dim;

  for (var row = first; row < end; row++) {
    let base = row * dim;
    // Σ_i dout·w·x over the row.
    var local_dot = 0.0;
    for (var i = lid; i < dim; i += WG) {
      local_dot += dout[base + i] * weight[i] * x[base + i];
    }
    let dot = workgroup_sum(lid, local_dot);
    let r = rstd[row];
    let coef = dot * r * r * r / f32(dim);
    for (var i = lid; i < dim; i += WG) {
      let grad = r * weight[i] * dout[base + i] - coef * x[base + i];
      if (ACCUMULATE_DX) { dx[base + i] += grad; } else { dx[base + i] = grad; }
    }
  }

  if (WITH_DWEIGHT) {
    // This group's share of dweight, column by column, rows in order.
    for (var i = lid; i < dim; i += WG) {
      var sum = 0.0;
      for (var row = first; row < end; row++) {
        sum += dout[row * dim + i] * x[row * dim + i] * rstd[row];
      }
      partials[group * dim + i] = sum;
    }
  }
}

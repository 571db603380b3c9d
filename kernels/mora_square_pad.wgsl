// MoRA's square matrix M between its (R, R) shape and the zero-padded (P, P) copy the square matmuls use
// (P = R rounded up to a multiple of 4, the row length of the compressed layout, see lib/ops/mora/operators.ts):
//   pad  (CROP = 0): dst[a, k] = src[a, k] for a, k < R, else 0     src (R, R), dst (P, P)
//   crop (CROP = 1): dst[a, k] = src[k, a], the transpose's crop      src (P, P), dst (R, R)
// (the backward computes ∂Mᵀ = cᵀ·dz padded, see lib/ops/mora/adapter_path.ts, and crops it into ∂M).
// dst is overwritten.
// Bindings: 0 params, 1 src, 2 dst.
//
// Thread = one element of dst; workgroups form a linear grid (2-D past the per-dimension limit, see
// lib/gpu/kernel.ts `grid`).

struct Params {
  rank: u32,    // R
  stride: u32,  // P
}

override CROP: u32 = 0u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * 64u + lid;
  let R = params.rank;
  let P = params.stride;
  if (CROP == 1u) {
    if (i >= R * R) { return; }
    dst[i] = src[(i % R) * P + i / R];
    return;
  }
  if (i >= P * P) { return; }
  let a = i / P;
  let k = i % P;
  dst[i] = select(0.0, src[min(a, R - 1u) * R + min(k, R - 1u)], a < R && k < R);
}

// Batched matmul out = alpha·(A·B) (+ out), register-blocked: each thread owns a TM×TN tile of out.
// This file is a template (lib/gpu/template.ts): lib/ops/matmul.ts fills the {{...}} slots with
// unrolled statements for one layout, tile shape and alignment, because loops over per-thread arrays
// are not unrolled by every driver (llvmpipe keeps them as memory indexed per lane, about 4× slower
// than named registers).
//
// Shapes, per batch item b (items stored one after another):
//   layout "nt": a is (M, K), b is (N, K)      out[m, n] = Σ_k a[m, k]·b[n, k]
//   layout "nn": a is (M, K), b is (K, N)      out[m, n] = Σ_k a[m, k]·b[k, n]
//   layout "tn": a is (K, M), b is (K, N)      out[m, n] = Σ_k a[k, m]·b[k, n]
//   out is (M, N).
// An operand is "k-contiguous" when k is its fastest index (a in nt/nn, b in nt) and "k-strided"
// otherwise (its rows are k). In the vec4 variant a k-contiguous operand is read as one vec4 of four
// k values per tile row, a k-strided one as vec4s of four neighbouring rows/columns per k; the scalar
// variant reads one float at a time, clamped and masked, for any shape.
//
// Bindings:
//   0: params (m, n, k, tilesN, tiles, alpha)
//   1: a   (batch, M·K) floats, as array<f32> or array<vec4f>
//   2: b   (batch, N·K) floats, as array<f32> or array<vec4f>
//   3: out (batch, M, N) floats, as array<f32> or array<vec4f> (vec4 when N % 4 == 0)
// Grid: x + y·nx indexes workgroups of WG threads over the tilesN·ceil(M/TM) tiles; z is the batch item.
// Summation order is fixed (k ascending, four k at a time through dot), so results are deterministic.

struct Params {
  m: u32,
  n: u32,
  k: u32,
  // Tiles per row of out: ceil(N / TN).
  tilesN: u32,
  // Tiles per batch item: ceil(M / TM)·tilesN.
  tiles: u32,
  alpha: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<{{IN_TYPE}}>;
@group(0) @binding(2) var<storage, read> b: array<{{IN_TYPE}}>;
@group(0) @binding(3) var<storage, read_write> out: array<{{OUT_TYPE}}>;

// Threads per workgroup (specialized per device: small on CPU adapters to spread few tiles over cores).
override WG: u32 = 64;

// Scalar variant: the float at `index` of a (b) where `ok`, else 0 (past the end of k).
// Typed by the slots so that the vec4 variant, which never calls them, still compiles.
fn load_a(index: u32, ok: bool) -> {{IN_TYPE}} {
  return select({{IN_TYPE}}(0.0), a[index], ok);
}

fn load_b(index: u32, ok: bool) -> {{IN_TYPE}} {
  return select({{IN_TYPE}}(0.0), b[index], ok);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let tile = (wid.x + wid.y * nwg.x) * WG + lid;
  if (tile >= params.tiles) { return; }
  let batch = wid.z;
  // Top-left corner (m0, n0) of this thread's TM×TN tile of out.
  let m0 = (tile / params.tilesN) * {{TM}}u;
  let n0 = (tile % params.tilesN) * {{TN}}u;
  let m = params.m;
  let n = params.n;
  let k = params.k;
  // Start of this batch item in a and b, in elements of their array type.
  let a_base = batch * m * k / {{IN_WIDTH}}u;
  let b_base = batch * n * k / {{IN_WIDTH}}u;
  // Per-thread offsets of the tile's rows/columns in a and b. Rows past the end are clamped to the
  // last one: they load real data whose results are never stored.
  {{SETUP}}
  // Accumulators: c<i>_<j> holds out[m0 + i, n0 + j .. n0 + j + 3].
  {{ACCUMULATORS}}
  // Four k at a time: load the tile's slice of a and b, then rank-4 update of every accumulator.
  for (var kv = 0u; kv < (k + 3u) / 4u; kv++) {
    let k0 = kv * 4u;
    {{LOADS}}
    {{UPDATES}}
  }
  // out is (M, N) per batch item; only in-range rows/columns are written.
  let out_row0 = batch * m + m0;
  {{STORES}}
}

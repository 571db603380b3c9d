// Cross-entropy forward, pass 1 of 2: one workgroup per row computes the row's logsumexp and loss.
// logits is (rows, vocab) f32; labels is (rows) i32, where -100 (ignore_index) or any value outside
// [0, vocab) marks an ignored row; row_loss is (rows): lse − logits[label], 0 for ignored rows;
// lse is (rows): log Σ_j exp(logits[row, j]), cached for the backward pass.
// Bindings: 0 params {rows, vocab}, 1 logits, 2 labels, 3 row_loss (out), 4 lse (out).
// The grid is 2-D when rows exceed the per-dimension workgroup limit (lib/gpu/kernel.ts `grid`).

struct Params {
  rows: u32,
  vocab: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<i32>;
@group(0) @binding(3) var<storage, read_write> row_loss: array<f32>;
@group(0) @binding(4) var<storage, read_write> lse: array<f32>;

// Threads per row, a power of two (specialized per device: lib/ops/cross_entropy.ts).
override WG: u32 = 256;
// Start of every running max: the lowest finite f32, so no infinity ever enters the arithmetic
// (exp(NEG_BIG − x) is exactly 0 for any ordinary x).
const NEG_BIG: f32 = -3.4028235e38;

// workgroup_logsumexp(lid, m, s): kernels/workgroup_logsumexp.wgsl, a piece of this template.

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  // Uniform per workgroup, so the barriers below stay in uniform control flow.
  if (row >= params.rows) { return; }
  let base = row * params.vocab;

  // Online softmax over this thread's strided slice j = lid, lid + WG, ...: one read per logit,
  // rescaling the running sum whenever the running max grows.
  var m = NEG_BIG;
  var s = 0.0;
  for (var j = lid; j < params.vocab; j += WG) {
    let x = logits[base + j];
    if (x > m) {
      s = s * exp(m - x) + 1.0;
      m = x;
    } else {
      s += exp(x - m);
    }
  }
  // lse = max + log Σ exp(x − max), merged over the threads; the sum is ≥ 1 (the max term), so the
  // log is finite.
  let row_lse = workgroup_logsumexp(lid, m, s);
  if (lid == 0u) {
    lse[row] = row_lse;
    let label = labels[row];
    let counted = label >= 0 && u32(label) < params.vocab;
    // −log softmax(x)[label] = lse − x[label].
    row_loss[row] = select(0.0, row_lse - logits[base + u32(max(label, 0))], counted);
  }
}

// Cross-entropy backward: dlogits = (softmax(logits) − onehot(label)) · (lossScale / count).
// logits and dlogits are (rows, vocab) f32; labels is (rows) i32 (ignored rows, label outside
// [0, vocab), get 0); lse is (rows) from the forward pass; stats is (2) with stats[1] = count of
// counted rows, computed on the GPU by the forward pass (count 0 → every gradient is 0).
// Bindings: 0 params {n = rows·vocab, vocab, lossScale}, 1 logits, 2 labels, 3 lse, 4 stats,
// 5 dlogits (out). One thread per logit; 2-D grid beyond the per-dimension workgroup limit.

struct Params {
  n: u32,
  vocab: u32,
  lossScale: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<i32>;
@group(0) @binding(3) var<storage, read> lse: array<f32>;
@group(0) @binding(4) var<storage, read> stats: array<f32>;
@group(0) @binding(5) var<storage, read_write> dlogits: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * 256u + lid;
  if (i >= params.n) { return; }
  let row = i / params.vocab;
  let col = i - row * params.vocab;
  let label = labels[row];
  let count = stats[1];
  let counted = label >= 0 && u32(label) < params.vocab && count > 0.0;
  // softmax(x)_col = exp(x_col − lse), at most 1 since lse ≥ x_col.
  let p = exp(logits[i] - lse[row]);
  let onehot = select(0.0, 1.0, u32(label) == col);
  // The select keeps the division by a zero count out of the result.
  dlogits[i] = select(0.0, (p - onehot) * (params.lossScale / count), counted);
}

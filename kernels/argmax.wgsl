// Greedy decoding: the index of the largest logit of the last position of each sequence.
// logits is (batch, queryLen, vocab); for each b, row = b·queryLen + queryLen − 1.
// next is (batch) u32: the chosen token, the next step's input id.
// generated is (batch, genStride) u32: the token is also written at column `column`.
// Ties pick the lowest index (torch.argmax). One workgroup of 64 threads per sequence: each thread scans a
// strided slice of the vocabulary, then a tree reduction in shared memory in a fixed order (deterministic).

struct Params {
  query_len: u32,
  vocab: u32,
  gen_stride: u32,
  column: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read_write> next: array<u32>;
@group(0) @binding(3) var<storage, read_write> generated: array<u32>;

var<workgroup> best_value: array<f32, 64>;
var<workgroup> best_index: array<u32, 64>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let b = wid.x;
  let base = (b * params.query_len + params.query_len - 1u) * params.vocab;
  var value = -3.4e38;
  var index = 0xffffffffu;
  for (var j = lid; j < params.vocab; j += 64u) {
    let x = logits[base + j];
    if (x > value || index == 0xffffffffu) { value = x; index = j; }
  }
  best_value[lid] = value;
  best_index[lid] = index;
  workgroupBarrier();
  for (var stride = 32u; stride > 0u; stride >>= 1u) {
    if (lid < stride) {
      let ov = best_value[lid + stride];
      let oi = best_index[lid + stride];
      let take = oi != 0xffffffffu && (ov > best_value[lid] || (ov == best_value[lid] && oi < best_index[lid])
        || best_index[lid] == 0xffffffffu);
      if (take) { best_value[lid] = ov; best_index[lid] = oi; }
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    next[b] = best_index[0];
    generated[b * params.gen_stride + params.column] = best_index[0];
  }
}

// Greedy decoding: the index of the largest logit of the last position of each sequence.
// logits is (batch, queryLen, vocab); for each b, row = b·queryLen + queryLen − 1.
// next is (batch) u32: the chosen token, the next step's input id.
// generated is (batch, genStride) u32: the token is also written at column `column`.
// Ties pick the lowest index (torch.argmax). One workgroup of 64 threads per sequence: each thread scans a
// strided slice of the vocabulary, then workgroup_argmax reduces in a fixed order (deterministic).

struct Params {
  queryLen: u32,
  vocab: u32,
  genStride: u32,
  column: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read_write> next: array<u32>;
@group(0) @binding(3) var<storage, read_write> generated: array<u32>;

const WG: u32 = 64u;

// workgroup_argmax(lid, value, index): kernels/workgroup_argmax.wgsl, a piece of this template.

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let b = wid.x;
  let base = (b * params.queryLen + params.queryLen - 1u) * params.vocab;
  var value = -3.4e38;
  var index = NO_INDEX;
  for (var j = lid; j < params.vocab; j += WG) {
    let x = logits[base + j];
    if (x > value || index == NO_INDEX) { value = x; index = j; }
  }
  let best = workgroup_argmax(lid, value, index);
  if (lid == 0u) {
    next[b] = best;
    generated[b * params.genStride + params.column] = best;
  }
}

// Embedding backward without atomics: dtable[v, :] = Σ_{k in [starts[v], starts[v+1])} dout[order[k], :].
// order (tokens, u32) lists token positions grouped by id, stably sorted; starts (vocab + 1, u32) is
// where each id's run begins in order. Rows of unused ids get 0 (or keep their value when accumulating).
// dout is (tokens, dim); dtable is (vocab, dim).
// Bindings: 0 params, 1 dout, 2 order, 3 starts, 4 dtable.
//
// `Values` is filled in by the host: vec4f when dim is a multiple of 4, else f32;
// params.dim is in Values. One thread per Values of dtable; each sums its id's tokens in order, so the
// result is deterministic.

struct Params {
  count: u32,   // vocab · dim
  dim: u32,
}

// true: dtable += the gradient (tied embeddings: the LM head's gradient is already there).
override ACCUMULATE: bool = false;

alias Values = {{VALUES}};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> dout: array<Values>;
@group(0) @binding(2) var<storage, read> order: array<u32>;
@group(0) @binding(3) var<storage, read> starts: array<u32>;
@group(0) @binding(4) var<storage, read_write> dtable: array<Values>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let p = (wid.x + wid.y * nwg.x) * 256u + lid;
  if (p >= params.count) { return; }
  let id = p / params.dim;
  let column = p % params.dim;
  var sum = Values(0.0);
  for (var k = starts[id]; k < starts[id + 1u]; k++) {
    sum += dout[order[k] * params.dim + column];
  }
  if (ACCUMULATE) { dtable[p] += sum; } else { dtable[p] = sum; }
}

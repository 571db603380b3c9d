// Embedding lookup: out[t, :] = table[ids[t], :], or zeros when ids[t] ≥ vocab (never read out of bounds).
// ids is (tokens) u32; table is (vocab, dim); out is (tokens, dim).
// Bindings: 0 params, 1 ids, 2 table, 3 out.
//
// `Values` is filled in by the host: vec4f when dim is a multiple of 4, else f32;
// params.dim is in Values. One thread per Values of out; adjacent threads copy adjacent columns.

struct Params {
  count: u32,   // tokens · dim
  dim: u32,
  vocab: u32,
}

alias Values = {{VALUES}};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> ids: array<u32>;
@group(0) @binding(2) var<storage, read> table: array<Values>;
@group(0) @binding(3) var<storage, read_write> out: array<Values>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let p = (wid.x + wid.y * nwg.x) * 256u + lid;
  if (p >= params.count) { return; }
  let token = p / params.dim;
  let column = p % params.dim;
  let id = ids[token];
  if (id < params.vocab) {
    out[p] = table[id * params.dim + column];
  } else {
    out[p] = Values(0.0);
  }
}

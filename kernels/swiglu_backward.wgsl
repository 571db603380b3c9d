// SwiGLU backward, both gradients in one pass. With s = sigmoid(g) and out = g·s·u:
//   dup[i]   = dout[i] · g·s                      (silu(g))
//   dgate[i] = dout[i] · u · s · (1 + g·(1 − s))  (d silu/dg = s + g·s·(1 − s))
// dout, gate, up, dgate, dup are (n) float32; dgate and dup are overwritten.
// Bindings: 0 params, 1 dout, 2 gate, 3 up, 4 dgate, 5 dup.
//
// `Values` is filled in by the host: vec4f when n is a multiple of 4, else f32;
// params.count is n / 4 or n accordingly. One thread per element of Values.

struct Params {
  count: u32,
}

alias Values = {{VALUES}};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> dout: array<Values>;
@group(0) @binding(2) var<storage, read> gate: array<Values>;
@group(0) @binding(3) var<storage, read> up: array<Values>;
@group(0) @binding(4) var<storage, read_write> dgate: array<Values>;
@group(0) @binding(5) var<storage, read_write> dup: array<Values>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * 256u + lid;
  if (i >= params.count) { return; }
  let g = gate[i];
  let d = dout[i];
  // 1 / (1 + e^(−g)) is 0 (not NaN) when e^(−g) overflows.
  let s = 1.0 / (1.0 + exp(-g));
  dup[i] = d * g * s;
  dgate[i] = d * up[i] * s * (1.0 + g * (1.0 - s));
}

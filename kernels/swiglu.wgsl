// SwiGLU forward: out[i] = silu(gate[i]) · up[i], silu(g) = g · sigmoid(g) = g / (1 + e^(−g)).
// gate, up, out are (n) float32 (the MLP's (tokens, hidden) activations, flattened).
// Bindings: 0 params, 1 gate, 2 up, 3 out.
//
// `Values` is filled in by the host: vec4f when n is a multiple of 4 (a quarter of
// the threads and memory accesses), else f32. params.count is n / 4 or n accordingly.
// One thread per element of Values; the grid is 2-D past the per-dimension limit (lib/gpu/kernel.ts `grid`).

struct Params {
  count: u32,
}

alias Values = {{VALUES}};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> gate: array<Values>;
@group(0) @binding(2) var<storage, read> up: array<Values>;
@group(0) @binding(3) var<storage, read_write> out: array<Values>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * 256u + lid;
  if (i >= params.count) { return; }
  let g = gate[i];
  // e^(−g) overflows to +inf for g < −88: g / inf = −0, the right limit.
  out[i] = g / (1.0 + exp(-g)) * up[i];
}

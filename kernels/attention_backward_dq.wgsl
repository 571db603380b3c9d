// Causal grouped-query attention, backward pass 1 of 2: dq, and delta for pass 2.
// Training case only: queryLen = keyLen = keyCapacity = seqLen.
//
// Bindings and shapes (row-major; V is vec4f when headDim % 4 == 0, else f32):
//   params                                      uniform, see Params
//   q     is (batch, seqLen, heads, headDim)    @binding(1), as array<V>
//   k     is (batch, seqLen, kvHeads, headDim)  @binding(2), as array<V>
//   v     is (batch, seqLen, kvHeads, headDim)  @binding(3), as array<V>
//   out   is (batch, seqLen, heads, headDim)    @binding(4), as array<V>: forward output
//   dout  is (batch, seqLen, heads, headDim)    @binding(5), as array<V>
//   lse   is (batch, heads, seqLen)             @binding(6): forward logsumexp
//   dq    is (batch, seqLen, heads, headDim)    @binding(7), as array<V>: overwritten
//   delta is (batch, heads, seqLen)             @binding(8): overwritten with D_i = dout_i·out_i
//
// With P_ij = exp(scale·q_i·k_j − lse_i) and dP_ij = dout_i·v_j (FlashAttention-2 backward):
//   dS_ij = P_ij·(dP_ij − D_i),   dq_i = scale · Σ_{j ≤ i} dS_ij·k_j
// (D_i = Σ_j P_ij·dP_ij = dout_i·out_i.)
//
// Template, filled by lib/ops/attention.ts exactly as attention_forward.wgsl: code lines naming
// the row index r are repeated for the R rows of a thread, those naming c for the NV vectors of a
// head row, and a "+c" group becomes a sum over c.
//
// Grid: x + y·nx indexes workgroups of WG threads; thread t owns query rows R·(t % rowBlocks) … + R − 1
// of head (b, h) = t / rowBlocks and loops over keys in ascending order (deterministic).

struct Params {
  // ceil(seqLen / R): row blocks per (batch, head).
  rowBlocks: u32,
  // batch · heads · rowBlocks.
  threads: u32,
  seqLen: u32,
  heads: u32,
  kvHeads: u32,
  scale: f32,
}

// V, NV, R, WG, the bindings q, k, v and dotv: kernels/attention_common.wgsl, a piece of this template.

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(4) var<storage, read> out: array<V>;
@group(0) @binding(5) var<storage, read> dout: array<V>;
@group(0) @binding(6) var<storage, read> lse: array<f32>;
@group(0) @binding(7) var<storage, read_write> dq: array<V>;
@group(0) @binding(8) var<storage, read_write> delta: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let t = (wid.x + wid.y * nwg.x) * WG + lid;
  if (t >= params.threads) { return; }
  let seqLen = params.seqLen;
  let bh = t / params.rowBlocks;
  let b = bh / params.heads;
  let h = bh % params.heads;
  let kvh = h / (params.heads / params.kvHeads);
  let i0 = (t % params.rowBlocks) * R;

  // Rows (b, i0 + r, h, :) of q, dout, out, dq, clamped to the last row; their D, lse in registers.
  let row_{r} = ((b * seqLen + min(i0 + {r}u, seqLen - 1u)) * params.heads + h) * NV;
  let stat_{r} = bh * seqLen + min(i0 + {r}u, seqLen - 1u);
  let q_{r}_{c} = q[row_{r} + {c}u];
  let do_{r}_{c} = dout[row_{r} + {c}u];
  let d_{r} = {+c: dotv(do_{r}_{c}, out[row_{r} + {c}u]) +};
  let lse_{r} = lse[stat_{r}];
  var acc_{r}_{c} = V();

  // Key rows (b, j, kvh, :) are kvHeads·NV vectors apart. Keys up to the last row's position.
  let kvStride = params.kvHeads * NV;
  let kvBase = (b * seqLen * params.kvHeads + kvh) * NV;
  let keys = min(i0 + R, seqLen);
  for (var j = 0u; j < keys; j++) {
    let kRow = kvBase + j * kvStride;
    let k_{c} = k[kRow + {c}u];
    let v_{c} = v[kRow + {c}u];
    // P (0 past the causal limit i0 + r), dP = dout·v, dS = P·(dP − D).
    let p_{r} = select(0.0, exp({+c: dotv(q_{r}_{c}, k_{c}) +} * params.scale - lse_{r}), j <= i0 + {r}u);
    let ds_{r} = p_{r} * ({+c: dotv(do_{r}_{c}, v_{c}) +} - d_{r});
    acc_{r}_{c} += ds_{r} * k_{c};
  }

  // dq = scale·acc and delta = D, for the rows that exist.
  if (i0 + {r}u < seqLen) { dq[row_{r} + {c}u] = params.scale * acc_{r}_{c}; }
  if (i0 + {r}u < seqLen) { delta[stat_{r}] = d_{r}; }
}

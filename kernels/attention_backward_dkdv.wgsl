// Causal grouped-query attention, backward pass 2 of 2: dk and dv, without atomics.
// Training case only: queryLen = keyLen = keyCapacity = seqLen. Runs after attention_backward_dq,
// which wrote delta.
//
// Bindings and shapes (row-major; V is vec4f when headDim % 4 == 0, else f32):
//   params                                      uniform, see Params
//   q     is (batch, seqLen, heads, headDim)    @binding(1), as array<V>
//   k     is (batch, seqLen, kvHeads, headDim)  @binding(2), as array<V>
//   v     is (batch, seqLen, kvHeads, headDim)  @binding(3), as array<V>
//   dout  is (batch, seqLen, heads, headDim)    @binding(4), as array<V>
//   lse   is (batch, heads, seqLen)             @binding(5): forward logsumexp
//   delta is (batch, heads, seqLen)             @binding(6): D_i = dout_i·out_i
//   dk    is (batch, seqLen, kvHeads, headDim)  @binding(7), as array<V>: overwritten
//   dv    is (batch, seqLen, kvHeads, headDim)  @binding(8), as array<V>: overwritten
//
// With P_ij = exp(scale·q_i·k_j − lse_i), dP_ij = dout_i·v_j, dS_ij = P_ij·(dP_ij − D_i), summing
// over the query heads h of kv head g and over the queries i ≥ j that see key j:
//   dv_j = Σ_h Σ_{i ≥ j} P_ij·dout_i,   dk_j = scale · Σ_h Σ_{i ≥ j} dS_ij·q_i
//
// Template, filled by lib/ops/attention.ts exactly as attention_forward.wgsl: code lines naming
// the row index r are repeated for the R key rows of a thread, those naming c for the NV vectors of
// a head row, and a "+c" group becomes a sum over c.
//
// Grid: x + y·nx indexes workgroups of WG threads; thread t owns key rows R·(t % rowBlocks) … + R − 1
// of kv head (b, kvh) = t / rowBlocks. Sums run in a fixed order (heads, then queries ascending), so
// results are deterministic. Rows past seqLen are clamped to the last one and never stored.

struct Params {
  // ceil(seqLen / R): row blocks per (batch, kv head).
  rowBlocks: u32,
  // batch · kvHeads · rowBlocks.
  threads: u32,
  seqLen: u32,
  heads: u32,
  kvHeads: u32,
  scale: f32,
}

// V, NV, R, WG, the bindings q, k, v and dotv: kernels/attention_common.wgsl, a piece of this template.

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(4) var<storage, read> dout: array<V>;
@group(0) @binding(5) var<storage, read> lse: array<f32>;
@group(0) @binding(6) var<storage, read> delta: array<f32>;
@group(0) @binding(7) var<storage, read_write> dk: array<V>;
@group(0) @binding(8) var<storage, read_write> dv: array<V>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let t = (wid.x + wid.y * nwg.x) * WG + lid;
  if (t >= params.threads) { return; }
  let seqLen = params.seqLen;
  let bkv = t / params.rowBlocks;
  let b = bkv / params.kvHeads;
  let kvh = bkv % params.kvHeads;
  let group = params.heads / params.kvHeads;
  let j0 = (t % params.rowBlocks) * R;

  // Rows (b, j0 + r, kvh, :) of k, v, dk, dv, clamped to the last row; k and v in registers.
  let kRow_{r} = ((b * seqLen + min(j0 + {r}u, seqLen - 1u)) * params.kvHeads + kvh) * NV;
  let k_{r}_{c} = k[kRow_{r} + {c}u];
  let v_{r}_{c} = v[kRow_{r} + {c}u];
  var dk_{r}_{c} = V();
  var dv_{r}_{c} = V();

  // Query rows (b, i, h, :) are heads·NV vectors apart.
  let qStride = params.heads * NV;
  for (var g = 0u; g < group; g++) {
    let h = kvh * group + g;
    let qBase = (b * seqLen * params.heads + h) * NV;
    let statBase = (b * params.heads + h) * seqLen;
    for (var i = j0; i < seqLen; i++) {
      let qRow = qBase + i * qStride;
      let q_{c} = q[qRow + {c}u];
      let do_{c} = dout[qRow + {c}u];
      let lseI = lse[statBase + i];
      let dI = delta[statBase + i];
      // P (0 where query i does not see key j0 + r), dP = dout·v, dS = P·(dP − D).
      let p_{r} = select(0.0, exp({+c: dotv(q_{c}, k_{r}_{c}) +} * params.scale - lseI), i >= j0 + {r}u);
      let ds_{r} = p_{r} * ({+c: dotv(do_{c}, v_{r}_{c}) +} - dI);
      dv_{r}_{c} += p_{r} * do_{c};
      dk_{r}_{c} += ds_{r} * q_{c};
    }
  }

  // dk = scale·Σ dS·q and dv = Σ P·dout, for the rows that exist.
  if (j0 + {r}u < seqLen) { dk[kRow_{r} + {c}u] = params.scale * dk_{r}_{c}; }
  if (j0 + {r}u < seqLen) { dv[kRow_{r} + {c}u] = dv_{r}_{c}; }
}

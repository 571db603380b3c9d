// Causal grouped-query attention, backward pass 2 of 2: dk and dv, without atomics.
// Training case only: queryLen = keyLen = keyCapacity = seqLen. Runs after attention_backward_dq,
// which wrote delta.
//
// Bindings and shapes (row-major, float32):
//   params                                  uniform, see Params
//   q     is (batch, seqLen, heads, headDim)    @binding(1)
//   k     is (batch, seqLen, kvHeads, headDim)  @binding(2)
//   v     is (batch, seqLen, kvHeads, headDim)  @binding(3)
//   dout  is (batch, seqLen, heads, headDim)    @binding(4)
//   lse   is (batch, heads, seqLen)             @binding(5), forward logsumexp
//   delta is (batch, heads, seqLen)             @binding(6), D_i = Σ_d dout_i·out_i
//   dk    is (batch, seqLen, kvHeads, headDim)  @binding(7), overwritten
//   dv    is (batch, seqLen, kvHeads, headDim)  @binding(8), overwritten
//
// With P_ij = exp(scale·q_i·k_j − lse_i), dP_ij = dout_i·v_j, dS_ij = P_ij·(dP_ij − D_i), summing
// over the query heads h of kv head g and over the queries i ≥ j that see key j:
//   dv_j = Σ_h Σ_{i ≥ j} P_ij·dout_i,   dk_j = scale · Σ_h Σ_{i ≥ j} dS_ij·q_i
//
// Grid: x = key positions in workgroups of WG, y = batch·kvHeads, z = head-dim chunks of CHUNK.
// One thread owns key j of one kv head and CHUNK columns of dk and dv; the sum runs in a fixed
// order (heads ascending, queries descending from seqLen − 1 to j), so results are deterministic.

struct Params {
  seqLen: u32,
  heads: u32,
  kvHeads: u32,
  headDim: u32,
  scale: f32,
}

override WG: u32 = 64;
// Columns of dk and dv one thread accumulates; headDim > CHUNK takes more chunks along z.
const CHUNK = 32u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read> dout: array<f32>;
@group(0) @binding(5) var<storage, read> lse: array<f32>;
@group(0) @binding(6) var<storage, read> delta: array<f32>;
@group(0) @binding(7) var<storage, read_write> dk: array<f32>;
@group(0) @binding(8) var<storage, read_write> dv: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let j = wid.x * WG + lid;
  let seqLen = params.seqLen;
  if (j >= seqLen) { return; }
  let dim = params.headDim;
  let b = wid.y / params.kvHeads;
  let kvh = wid.y % params.kvHeads;
  let group = params.heads / params.kvHeads;
  let d0 = wid.z * CHUNK;
  let width = min(CHUNK, dim - d0);

  // Row (b, j, kvh, :) of k, v, dk, dv; a query row (b, i, h, :) is at (b·seqLen + i)·heads + h.
  let kRow = ((b * seqLen + j) * params.kvHeads + kvh) * dim;
  let qStride = params.heads * dim;

  var dkAcc: array<f32, CHUNK>;
  var dvAcc: array<f32, CHUNK>;
  for (var g = 0u; g < group; g++) {
    let h = kvh * group + g;
    let qBase = (b * seqLen * params.heads + h) * dim;
    let statBase = (b * params.heads + h) * seqLen;
    // Queries i = seqLen − 1 down to j; counting n up keeps i the same across threads.
    for (var n = 0u; n < seqLen - j; n++) {
      let i = seqLen - 1u - n;
      let qRow = qBase + i * qStride;
      var s = 0.0;
      var dp = 0.0;
      for (var d = 0u; d < dim; d++) {
        s += q[qRow + d] * k[kRow + d];
        dp += dout[qRow + d] * v[kRow + d];
      }
      let p = exp(s * params.scale - lse[statBase + i]);
      let ds = p * (dp - delta[statBase + i]);
      for (var c = 0u; c < width; c++) {
        dvAcc[c] += p * dout[qRow + d0 + c];
        dkAcc[c] += ds * q[qRow + d0 + c];
      }
    }
  }
  for (var c = 0u; c < width; c++) {
    dk[kRow + d0 + c] = params.scale * dkAcc[c];
    dv[kRow + d0 + c] = dvAcc[c];
  }
}

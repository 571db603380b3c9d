// Causal grouped-query attention, backward pass 1 of 2: dq, and delta for pass 2.
// Training case only: queryLen = keyLen = keyCapacity = seqLen.
//
// Bindings and shapes (row-major, float32):
//   params                                  uniform, see Params
//   q     is (batch, seqLen, heads, headDim)    @binding(1)
//   k     is (batch, seqLen, kvHeads, headDim)  @binding(2)
//   v     is (batch, seqLen, kvHeads, headDim)  @binding(3)
//   out   is (batch, seqLen, heads, headDim)    @binding(4), forward output
//   dout  is (batch, seqLen, heads, headDim)    @binding(5)
//   lse   is (batch, heads, seqLen)             @binding(6), forward logsumexp
//   dq    is (batch, seqLen, heads, headDim)    @binding(7), overwritten
//   delta is (batch, heads, seqLen)             @binding(8), overwritten: D_i = Σ_d dout_i·out_i
//
// With P_ij = exp(scale·q_i·k_j − lse_i) and dP_ij = dout_i·v_j (FlashAttention-2 backward):
//   dS_ij = P_ij·(dP_ij − D_i),   dq_i = scale · Σ_{j ≤ i} dS_ij·k_j
// (D_i = Σ_j P_ij·dP_ij = dout_i·out_i.)
//
// Grid: x = query rows in workgroups of WG, y = batch·heads, z = head-dim chunks of CHUNK.
// One thread owns one query row and CHUNK columns of dq, looping over keys in ascending order.

struct Params {
  seqLen: u32,
  heads: u32,
  kvHeads: u32,
  headDim: u32,
  scale: f32,
}

override WG: u32 = 64;
// Columns of dq one thread accumulates; headDim > CHUNK takes more chunks along z.
const CHUNK = 32u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read> out: array<f32>;
@group(0) @binding(5) var<storage, read> dout: array<f32>;
@group(0) @binding(6) var<storage, read> lse: array<f32>;
@group(0) @binding(7) var<storage, read_write> dq: array<f32>;
@group(0) @binding(8) var<storage, read_write> delta: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = wid.x * WG + lid;
  if (i >= params.seqLen) { return; }
  let dim = params.headDim;
  let b = wid.y / params.heads;
  let h = wid.y % params.heads;
  let kvh = h / (params.heads / params.kvHeads);
  let d0 = wid.z * CHUNK;
  let width = min(CHUNK, dim - d0);

  // Row (b, i, h, :) of q, out, dout, dq; kv head kvh at key 0, key rows kvHeads·headDim apart.
  let row = ((b * params.seqLen + i) * params.heads + h) * dim;
  let kvStride = params.kvHeads * dim;
  let kvBase = (b * params.seqLen * params.kvHeads + kvh) * dim;
  let stat = wid.y * params.seqLen + i;

  // D_i over the whole row (every chunk computes the same bits; chunk 0 stores it).
  var di = 0.0;
  for (var d = 0u; d < dim; d++) { di += dout[row + d] * out[row + d]; }
  if (wid.z == 0u) { delta[stat] = di; }
  let rowLse = lse[stat];

  var acc: array<f32, CHUNK>;
  for (var j = 0u; j <= i; j++) {
    let kRow = kvBase + j * kvStride;
    // s = q_i·k_j and dP = dout_i·v_j in one sweep over headDim.
    var s = 0.0;
    var dp = 0.0;
    for (var d = 0u; d < dim; d++) {
      s += q[row + d] * k[kRow + d];
      dp += dout[row + d] * v[kRow + d];
    }
    let p = exp(s * params.scale - rowLse);
    let ds = p * (dp - di);
    for (var c = 0u; c < width; c++) { acc[c] += ds * k[kRow + d0 + c]; }
  }
  for (var c = 0u; c < width; c++) { dq[row + d0 + c] = params.scale * acc[c]; }
}

// Causal grouped-query attention, forward, flash style: an online softmax over the keys, so no
// (queryLen × keyLen) score matrix is ever stored.
//
// Bindings and shapes (row-major, float32):
//   params                                   uniform, see Params
//   q   is (batch, queryLen, heads, headDim)       @binding(1)
//   k   is (batch, keyCapacity, kvHeads, headDim)  @binding(2)
//   v   is (batch, keyCapacity, kvHeads, headDim)  @binding(3)
//   out is (batch, queryLen, heads, headDim)       @binding(4)
//   lse is (batch, heads, queryLen)                @binding(5), logsumexp of each score row
//
// Query i sits at absolute position keyLen − queryLen + i and attends keys j ≤ that position.
// Head h reads kv head h / (heads / kvHeads) (HF repeat_kv).
//
// Grid: x = query rows in workgroups of WG threads, y = batch·heads, z = head-dim chunks of CHUNK.
// One thread owns one query row and CHUNK output columns; it recomputes the full score of each
// key (a dot over all of headDim), so chunks of one row repeat the same arithmetic bit for bit.
// (b, h) and the chunk come from the workgroup id, so k and v addresses are uniform across the
// threads of a workgroup.

struct Params {
  queryLen: u32,
  keyLen: u32,
  keyCapacity: u32,
  heads: u32,
  kvHeads: u32,
  headDim: u32,
  scale: f32,
}

override WG: u32 = 64;
// Output columns one thread accumulates; headDim > CHUNK takes more chunks along z.
const CHUNK = 32u;
// Start of the running max: below any score, and exp(NEG_BIG − s) is exactly 0.
const NEG_BIG = -1.0e30;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read_write> lse: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = wid.x * WG + lid;
  if (i >= params.queryLen) { return; }
  let dim = params.headDim;
  let b = wid.y / params.heads;
  let h = wid.y % params.heads;
  let kvh = h / (params.heads / params.kvHeads);
  let d0 = wid.z * CHUNK;
  let width = min(CHUNK, dim - d0);

  // q row (b, i, h, :) and the start of kv head kvh at key 0; a key row is kvHeads·headDim apart.
  let qRow = ((b * params.queryLen + i) * params.heads + h) * dim;
  let kvStride = params.kvHeads * dim;
  let kvBase = (b * params.keyCapacity * params.kvHeads + kvh) * dim;
  // Causal: keys 0 … keyLen − queryLen + i.
  let limit = params.keyLen - params.queryLen + i + 1u;

  // Online softmax: m = running max of scores, l = Σ exp(s − m), acc = Σ exp(s − m)·v[:, chunk].
  var m = NEG_BIG;
  var l = 0.0;
  var acc: array<f32, CHUNK>;
  for (var j = 0u; j < limit; j++) {
    let kRow = kvBase + j * kvStride;
    var s = 0.0;
    for (var d = 0u; d < dim; d++) { s += q[qRow + d] * k[kRow + d]; }
    s *= params.scale;
    let mNew = max(m, s);
    let rescale = exp(m - mNew);
    let p = exp(s - mNew);
    l = l * rescale + p;
    for (var c = 0u; c < width; c++) { acc[c] = acc[c] * rescale + p * v[kRow + d0 + c]; }
    m = mNew;
  }

  // out = acc / l; lse = m + log l (written once, by chunk 0).
  let inv = 1.0 / l;
  for (var c = 0u; c < width; c++) { out[qRow + d0 + c] = acc[c] * inv; }
  if (wid.z == 0u) { lse[wid.y * params.queryLen + i] = m + log(l); }
}

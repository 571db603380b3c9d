// Causal grouped-query attention, forward, flash style: an online softmax over the keys, so no
// (queryLen × keyLen) score matrix is ever stored.
//
// Bindings and shapes (row-major; V is vec4f when headDim % 4 == 0, else f32):
//   params                                         uniform, see Params
//   q   is (batch, queryLen, heads, headDim)       @binding(1), as array<V>
//   k   is (batch, keyCapacity, kvHeads, headDim)  @binding(2), as array<V>
//   v   is (batch, keyCapacity, kvHeads, headDim)  @binding(3), as array<V>
//   out is (batch, queryLen, heads, headDim)       @binding(4), as array<V>
//   lse is (batch, heads, queryLen)                @binding(5), logsumexp of each score row
//
// Query i sits at absolute position keyLen − queryLen + i and attends keys j ≤ that position.
// Head h reads kv head h / (heads / kvHeads) (HF repeat_kv).
//
// This file is a template (lib/gpu/template.ts) that lib/ops/attention.ts fills for one headDim,
// after kernels/attention_common.wgsl: a line naming {r} is repeated for each of the R query rows a
// thread owns, a line naming {c} for each of the NV vectors of a head row, and {+c: e +} becomes the
// sum of e over c. Unrolled names stay in registers on
// llvmpipe, where storage loads cost a loop over SIMD lanes: each k and v vector loaded serves R rows.
//
// Grid: x + y·nx indexes workgroups of WG threads; thread t owns rows R·(t % rowBlocks) … + R − 1
// of head (b, h) = t / rowBlocks. Rows past queryLen are clamped to the last one and never stored.

struct Params {
  // ceil(queryLen / R): row blocks per (batch, head).
  rowBlocks: u32,
  // batch · heads · rowBlocks.
  threads: u32,
  queryLen: u32,
  keyLen: u32,
  keyCapacity: u32,
  heads: u32,
  kvHeads: u32,
  scale: f32,
}

// V, NV, R, WG, the bindings q, k, v and dotv: kernels/attention_common.wgsl, a piece of this template.
// Start of the running max: below any score, and exp(NEG_BIG − s) is exactly 0.
const NEG_BIG = -1.0e30;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(4) var<storage, read_write> out: array<V>;
@group(0) @binding(5) var<storage, read_write> lse: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let t = (wid.x + wid.y * nwg.x) * WG + lid;
  if (t >= params.threads) { return; }
  let bh = t / params.rowBlocks;
  let b = bh / params.heads;
  let h = bh % params.heads;
  let kvh = h / (params.heads / params.kvHeads);
  let i0 = (t % params.rowBlocks) * R;
  let offset = params.keyLen - params.queryLen;

  // q rows (b, i0 + r, h, :), clamped to the last row, held in registers q_r_c.
  let qRow_{r} = ((b * params.queryLen + min(i0 + {r}u, params.queryLen - 1u)) * params.heads + h) * NV;
  let q_{r}_{c} = q[qRow_{r} + {c}u];
  // Online softmax per row: m = running max of scores, l = Σ exp(s − m), acc = Σ exp(s − m)·v_j.
  var m_{r} = NEG_BIG;
  var l_{r} = 0.0;
  var acc_{r}_{c} = V();

  // Key rows (b, j, kvh, :) are kvHeads·NV vectors apart. Keys up to the last row's position.
  let kvStride = params.kvHeads * NV;
  let kvBase = (b * params.keyCapacity * params.kvHeads + kvh) * NV;
  let keys = min(offset + i0 + R, params.keyLen);
  for (var j = 0u; j < keys; j++) {
    let kRow = kvBase + j * kvStride;
    let k_{c} = k[kRow + {c}u];
    let v_{c} = v[kRow + {c}u];
    // Score of row r, or NEG_BIG (weight exactly 0) past its causal limit offset + i0 + r.
    let s_{r} = select(NEG_BIG, {+c: dotv(q_{r}_{c}, k_{c}) +} * params.scale, j <= offset + i0 + {r}u);
    let mNew_{r} = max(m_{r}, s_{r});
    let rescale_{r} = exp(m_{r} - mNew_{r});
    let p_{r} = exp(s_{r} - mNew_{r});
    l_{r} = l_{r} * rescale_{r} + p_{r};
    m_{r} = mNew_{r};
    acc_{r}_{c} = acc_{r}_{c} * rescale_{r} + p_{r} * v_{c};
  }

  // out = acc / l and lse = m + log l, for the rows that exist.
  if (i0 + {r}u < params.queryLen) { out[qRow_{r} + {c}u] = acc_{r}_{c} / l_{r}; }
  if (i0 + {r}u < params.queryLen) { lse[bh * params.queryLen + i0 + {r}u] = m_{r} + log(l_{r}); }
}

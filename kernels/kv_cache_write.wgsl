// Copies the keys (or values) of new tokens into a KV cache at a position offset.
// src is (batch, newLen, width) — width = kvHeads·headDim; cache is (batch, capacity, width).
// cache[b, offset + t, :] = src[b, t, :] for t < newLen. One thread per copied value.

struct Params {
  batch: u32,
  newLen: u32,
  width: u32,
  capacity: u32,
  offset: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> cache: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * 256u + lid;
  let total = params.batch * params.newLen * params.width;
  if (i >= total) { return; }
  // i = (b·newLen + t)·width + c
  let c = i % params.width;
  let bt = i / params.width;
  let t = bt % params.newLen;
  let b = bt / params.newLen;
  cache[(b * params.capacity + params.offset + t) * params.width + c] = src[i];
}

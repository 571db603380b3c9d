// Inverted dropout with a counter-based mask (no stored state, no mask buffer):
//   y[i] (+)= x[i] · (keep(i) ? keepFactor : dropFactor)
// keep(i) = bits(stream, counter[0], i) >= threshold, where bits is a PCG hash chain (Jarzynski & Olano 2020,
// "Hash Functions for GPU Rendering") of the layer's stream id, the training step and the element index, and
// threshold = round(p·2³²). Dropout D(x) = mask ⊙ x / (1−p) is keepFactor = 1/(1−p), dropFactor = 0; its
// complement x − D(x) is keepFactor = −p/(1−p), dropFactor = 1. The same (stream, step, i) give the same mask
// in the backward pass. lib/ops/dropout.ts mirrors the hash bit for bit on the CPU.
// counter is (1) u32 (the step, rewritten by the trainer before each submit); x and y are (n) float32.
// One thread per value; the grid is 2-D when n/256 exceeds the per-dimension workgroup limit.

struct Params {
  n: u32,
  stream: u32,
  threshold: u32,
  accumulate: u32,
  keepFactor: f32,
  dropFactor: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> counter: array<u32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

fn pcg(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * 256u + lid;
  if (i >= params.n) { return; }
  let key = pcg(params.stream ^ pcg(counter[0]));
  let bits = pcg(pcg(i ^ key) + key);
  let factor = select(params.dropFactor, params.keepFactor, bits >= params.threshold);
  var value = x[i] * factor;
  if (params.accumulate != 0u) { value += y[i]; }
  y[i] = value;
}

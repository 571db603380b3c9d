// Rotary position embedding (RoPE), Hugging Face `rotate_half` pairing: element i of a head vector
// pairs with element i + h, h = headDim / 2. With c = cos(angle), s = sin(angle) of (position, i):
//   out[i]     = x[i]·c − sign·x[i + h]·s
//   out[i + h] = x[i + h]·c + sign·x[i]·s
// sign = +1 rotates by +angle (forward); sign = −1 rotates by −angle, the transpose (backward).
// x, out are (batch, seqLen, heads, headDim); token t of a sequence sits at position offset + t.
// table is (2, seqLen, h): cos then sin of the angles, float32-rounded on the host as HF does.
// Bindings: 0 params, 1 x, 2 table, 3 out.
//
// `Values` is filled in by the host: vec4f when h is a multiple of 4, else f32; the
// counts below are in Values. One thread per (head vector, i < h) pair of Values.

struct Params {
  pairs: u32,      // batch · seqLen · heads · half
  half: u32,       // h, in Values
  heads: u32,
  seqLen: u32,
  sign: f32,
}

alias Values = {{VALUES}};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<Values>;
@group(0) @binding(2) var<storage, read> table: array<Values>;
@group(0) @binding(3) var<storage, read_write> out: array<Values>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let p = (wid.x + wid.y * nwg.x) * 256u + lid;
  if (p >= params.pairs) { return; }
  let half = params.half;
  let i = p % half;
  let vector = p / half;                                // (batch, seqLen, heads) flattened
  let position = (vector / params.heads) % params.seqLen;
  let base = vector * 2u * half;
  let c = table[position * half + i];
  let s = params.sign * table[(params.seqLen + position) * half + i];
  let a = x[base + i];
  let b = x[base + half + i];
  out[base + i] = a * c - b * s;
  out[base + half + i] = b * c + a * s;
}

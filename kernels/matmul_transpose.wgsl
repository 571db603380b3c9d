// Batched transpose in 4×4 blocks, the pre-pass that turns matmul layout "tn" into "nn".
// x is (batch, rows, cols), y is (batch, cols, rows); rows % 4 == 0 and cols % 4 == 0, so both are
// read and written as vec4: x4 is (batch, rows, cols / 4), y4 is (batch, cols, rows / 4).
//
// Bindings:
//   0: params (rows, cols, blocksPerRow = cols / 4, blocks = rows·cols / 16)
//   1: x (batch, rows, cols) as vec4
//   2: y (batch, cols, rows) as vec4
// Grid: x + y·nx indexes workgroups of 64 threads over the blocks, one 4×4 block per thread; z is the
// batch item.

struct Params {
  rows: u32,
  cols: u32,
  blocksPerRow: u32,
  blocks: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> y: array<vec4f>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let block = (wid.x + wid.y * nwg.x) * 64u + lid;
  if (block >= params.blocks) { return; }
  // The block covers rows r0..r0+3 and vec4 column c4 (columns 4·c4..4·c4+3) of x.
  let r0 = (block / params.blocksPerRow) * 4u;
  let c4 = block % params.blocksPerRow;
  let base = wid.z * params.blocks * 4u;
  let x0 = x[base + (r0 + 0u) * params.blocksPerRow + c4];
  let x1 = x[base + (r0 + 1u) * params.blocksPerRow + c4];
  let x2 = x[base + (r0 + 2u) * params.blocksPerRow + c4];
  let x3 = x[base + (r0 + 3u) * params.blocksPerRow + c4];
  // Row c of y (column 4·c4 + c of x) holds x0[c], x1[c], x2[c], x3[c] at vec4 index r0 / 4.
  let rows4 = params.rows / 4u;
  let y0 = base + c4 * 4u * rows4 + r0 / 4u;
  y[y0] = vec4f(x0.x, x1.x, x2.x, x3.x);
  y[y0 + rows4] = vec4f(x0.y, x1.y, x2.y, x3.y);
  y[y0 + 2u * rows4] = vec4f(x0.z, x1.z, x2.z, x3.z);
  y[y0 + 3u * rows4] = vec4f(x0.w, x1.w, x2.w, x3.w);
}

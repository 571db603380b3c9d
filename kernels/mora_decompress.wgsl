// MoRA decompression f_decomp (paper Eq. 4, 6, 8; spec/mora.md §2), ADDED into the base layer's output
// in one gather-add pass:
//   zero pad (Eq. 4):          out[b, o] += z[b, o]                  for o < min(R, out) (columns)
//   tile (Eq. 6, types 1, 3; and Eq. 8/9 concat + truncate/repeat, slots = needed chunks·R, see
//   lib/ops/mora/operators.ts: o mod slots = o mod chunks·R for every o < out):
//                              out[b, o] += z[b, o mod slots]
//   contiguous repeat (types 2, 4): out[b, o] += z[b, G_out(o)]
// z is (rows·n′, P) in the layout of mora_compress.wgsl (slot s = j·R + k at column j·P + k of its row);
// out is (rows, outFeatures), read and written.
// Bindings: 0 params, 1 z, 2 out.
//
// Thread = one output column o, looping over ROWS rows (kernels/mora_tiling.wgsl; the source slot is
// computed once).

struct Params {
  rows: u32,
  outFeatures: u32,
  slots: u32,        // n′·R, the period of the tile
  width: u32,        // columns per row of z: n′·P
  rank: u32,
  stride: u32,       // P, columns per chunk
  columns: u32,      // columns written: outFeatures, or min(R, outFeatures) for zero pad
  colTiles: u32,
  groupSmall: u32,  // contiguous repeat: floor(out/R) copies of each slot ...
  groupLarge: u32,  // ... plus one for the first out mod R slots
}

// 0 zero pad, 1 tile, 2 contiguous repeat.
override KIND: u32 = 1u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> z: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let t = mora_tile(wid, nwg, lid, params.colTiles, params.rows);
  let o = t.column;
  let row0 = t.row0;
  if (o >= params.columns || row0 >= params.rows) { return; }
  let rowEnd = t.rowEnd;
  var src = o;
  if (KIND == 1u) {
    src = o % params.slots;
  } else if (KIND == 2u) {
    let big = params.groupSmall + 1u;
    let split = params.groupLarge * big;
    src = select(params.groupLarge + (o - split) / max(params.groupSmall, 1u), o / big, o < split);
  }
  let column = (src / params.rank) * params.stride + src % params.rank;
  for (var b = row0; b < rowEnd; b++) {
    let i = b * params.outFeatures + o;
    out[i] = out[i] + z[b * params.width + column];
  }
}

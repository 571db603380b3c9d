// MoRA compression f_comp (paper Eq. 4, 6, 8; spec/mora.md §2) without rotation, one pass over x:
//   truncate (Eq. 4):          c[b, s] = x[b, s] for s < in, else 0                 (slots = R)
//   modulo sum (Eq. 6, types 1, 4): c[b, s] = Σ_{t < terms} x[b, (s + t·R) mod in]   (slots = R)
//   contiguous sum (types 2, 3):    c[b, s] = Σ_{i in group s} x[b, i]               (slots = R)
//   wrap-padded chunks (Eq. 8):     c[b, s] = x[b, s mod in]              (slots = needed chunks·R)
// x is (rows, in); c is (rows·chunks, P) row-major, overwritten: slot s = j·R + k (chunk j, k < R) sits
// at column j·P + k of its row, P = R rounded up to a multiple of 4, and the columns k ≥ R are zeros (so
// the square matmuls take their vec4 path, see lib/ops/mora/operators.ts).
// Bindings: 0 params, 1 x, 2 c.
//
// With TRANSPOSED = 1, c is written as its transpose (P, rows·chunks) instead (mora_compressed_column).
//
// Thread = one column q of c's row (width = chunks·P), looping over ROWS rows (kernels/mora_tiling.wgsl), so
// the source indices are worked out once per thread and reused on every row.

struct Params {
  rows: u32,
  inFeatures: u32,
  width: u32,        // columns per row of c: chunks·P
  rank: u32,
  stride: u32,       // P, columns per chunk
  colTiles: u32,
  terms: u32,        // modulo sum: chunks of the wrap-padded input, ceil(in/R)
  groupSmall: u32,  // contiguous sum: floor(in/R) members per group ...
  groupLarge: u32,  // ... plus one for the first in mod R groups
}

// 0 truncate, 1 modulo sum, 2 contiguous sum, 3 wrap-padded chunks.
override KIND: u32 = 0u;

// 1: write the compressed values transposed, (P, rows·n′) (the backward's ∂M = (cᵀ·dz)ᵀ reads them so).
override TRANSPOSED: u32 = 0u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let t = mora_tile(wid, nwg, lid, params.colTiles, params.rows);
  let q = t.column;
  let row0 = t.row0;
  if (q >= params.width || row0 >= params.rows) { return; }
  let rowEnd = t.rowEnd;
  let n = params.inFeatures;
  let k = q % params.stride;
  let s = (q / params.stride) * params.rank + k;
  // first: the first source column; count: how many sources (consecutive for contiguous groups).
  var first = s % n;
  var count = params.terms;
  if (KIND == 0u) {
    first = s;
    count = select(0u, 1u, s < n);
  } else if (KIND == 2u) {
    let big = params.groupSmall + 1u;
    first = select(params.groupLarge * big + (s - params.groupLarge) * params.groupSmall, s * big,
                   s < params.groupLarge);
    count = select(params.groupSmall, big, s < params.groupLarge);
  } else if (KIND == 3u) {
    count = 1u;
  }
  if (k >= params.rank) { count = 0u; }  // padding column
  let column = mora_compressed_column(q, params.rows, params.width, params.stride, TRANSPOSED == 1u);
  for (var b = row0; b < rowEnd; b++) {
    let xrow = b * n;
    var acc = 0.0;
    var src = first;
    for (var t = 0u; t < count; t++) {
      acc += x[xrow + src];
      if (KIND == 1u) {
        // Next wrap-padded position s + (t+1)·R; one subtraction suffices (R < in whenever terms > 1).
        src += params.rank;
        if (src >= n) { src -= n; }
      } else {
        src += 1u;
      }
    }
    c[column.start + b * column.step] = acc;
  }
}

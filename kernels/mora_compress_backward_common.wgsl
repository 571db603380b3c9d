// Shared piece of the MoRA compression backward without rotation, Cᵀ (spec/mora.md §2.5), ADDED into dx
// (the base layer's g·W0 is already there): mora_compress_backward.wgsl (one column of dx per thread) and
// mora_compress_backward_vec4.wgsl (four, for in_features a multiple of 4) list it as a piece after
// kernels/mora_tiling.wgsl (lib/ops/mora/templates.ts), and sum the same members in the same order:
//   truncate (Eq. 4):     dx[b, i] += dc[b, i]                                  for i < min(in, R) (columns)
//   modulo sum (Eq. 6):   dx[b, i] += Σ_{p = i + t·in < positions} dc[b, p mod R]   (positions = ceil(in/R)·R)
//   contiguous sum:       dx[b, i] += dc[b, G_in(i)]
//   wrap-padded chunks:   dx[b, i] += Σ_{p = i + t·in < positions} dc[b, p]        (positions = slots)
// dc is (rows·n′, P) in the layout of mora_compress.wgsl (slot p = j·R + k at column j·P + k of its row;
// slots = n′·R, the needed chunks for the chunked compression, see lib/ops/mora/operators.ts); dx is
// (rows, inFeatures), read and written, bound by each kernel at binding 2. Both kernels find a column's
// members with members(i) and add them with member_sum (below); the contiguous sum's group comes from
// kernels/mora_contiguous_group.wgsl, listed before this piece.

struct Params {
  rows: u32,
  inFeatures: u32,
  width: u32,        // columns per row of dc: n′·P
  rank: u32,
  stride: u32,       // P, columns per chunk
  positions: u32,    // wrap-padded positions summed: ceil(in/R)·R (modulo sum), or slots (chunks)
  columns: u32,      // columns written: inFeatures, or min(slots, inFeatures) (truncate, chunks)
  colTiles: u32,
  groupSmall: u32,   // contiguous sum: floor(in/R) members per group ...
  groupLarge: u32,   // ... plus one for the first in mod R groups
}

// 0 truncate, 1 modulo sum, 2 contiguous sum, 3 wrap-padded chunks.
override KIND: u32 = 0u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> dc: array<f32>;

// The slots feature i reads: first, then advancing by step (modulo R for the modulo sum), count of them.
struct Members {
  first: u32,
  step: u32,
  count: u32,
}

fn members(i: u32) -> Members {
  if (i >= params.columns) { return Members(0u, 0u, 0u); }
  let n = params.inFeatures;
  var m = Members(i, 0u, 1u);
  if (KIND == 1u || KIND == 3u) {
    // Wrap-padded positions i, i + in, ... below positions; their slot advances by in mod R.
    m.count = (params.positions - i + n - 1u) / n;
    m.step = select(n, n % params.rank, KIND == 1u);
    m.first = select(i, i % params.rank, KIND == 1u);
  } else if (KIND == 2u) {
    m.first = contiguous_group_of(i, params.groupSmall, params.groupLarge);
  }
  return m;
}

// Σ dc[row + column of each member slot] (in order). Slot p sits at column (p / R)·P + p mod R; only the
// wrap-padded chunks reach past slot R, the other kinds' slots are their columns (no division per member:
// divisions by runtime sizes do not vectorize on CPU adapters).
fn member_sum(row: u32, m: Members) -> f32 {
  var acc = 0.0;
  var slot = m.first;
  for (var member = 0u; member < m.count; member++) {
    if (KIND == 3u) {
      acc += dc[row + (slot / params.rank) * params.stride + slot % params.rank];
    } else {
      acc += dc[row + slot];
    }
    slot += m.step;
    if (KIND == 1u && slot >= params.rank) { slot -= params.rank; }
  }
  return acc;
}

// The MoRA tiling prologue, a piece shared by the mora_* kernels that loop over rows (lib/ops/mora/templates.ts):
// workgroups of 64 threads form a linear grid (2-D past the per-dimension limit, see lib/gpu/kernel.ts `grid`),
// and workgroup `tile` covers the 64 columns of column tile `tile mod colTiles` (one column per thread) on the
// ROWS rows from (tile / colTiles)·ROWS. A thread works out its source indices once and reuses them on every
// row of its tile.

// Rows per workgroup.
override ROWS: u32 = 8u;

// This thread's column and rows [row0, rowEnd).
struct MoraTile {
  column: u32,
  row0: u32,
  rowEnd: u32,
}

fn mora_tile(wid: vec3u, nwg: vec3u, lid: u32, colTiles: u32, rows: u32) -> MoraTile {
  let tile = wid.x + wid.y * nwg.x;
  let row0 = (tile / colTiles) * ROWS;
  return MoraTile((tile % colTiles) * 64u + lid, row0, min(row0 + ROWS, rows));
}

// Where column q of each row's compressed values lies (n′ = width / stride chunks of P = stride columns: chunk
// j's slot k at column j·P + k): row b's value is at start + b·step, in the row-major (rows·n′, P) layout, or,
// when `transposed`, in its transpose (P, rows·n′), whose row k holds slot k of every chunk of every row.
// Worked out once per thread: the divisions by runtime sizes do not vectorize on CPU adapters.
struct MoraCompressedColumn {
  start: u32,
  step: u32,
}

fn mora_compressed_column(q: u32, rows: u32, width: u32, stride: u32, transposed: bool) -> MoraCompressedColumn {
  if (!transposed) { return MoraCompressedColumn(q, width); }
  let chunks = width / stride;
  return MoraCompressedColumn((q % stride) * rows * chunks + q / stride, chunks);
}

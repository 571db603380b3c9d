// Cross-entropy forward, pass 2 of 2: one workgroup reduces the per-row losses to the batch mean.
// row_loss is (rows) f32 (0 for ignored rows); labels is (rows) i32 (counted iff in [0, vocab));
// stats is (2): [mean loss over counted rows, count of counted rows]; all rows ignored → [0, 0].
// Bindings: 0 params {rows, vocab}, 1 row_loss, 2 labels, 3 stats (out).
// Fixed strided slices and a fixed tree make the result bit-identical from run to run.

struct Params {
  rows: u32,
  vocab: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> row_loss: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<i32>;
@group(0) @binding(3) var<storage, read_write> stats: array<f32>;

const WG: u32 = 256u;

// Per-thread partial loss sums and counted-row tallies (u32, so the count is exact).
var<workgroup> loss_sum: array<f32, WG>;
var<workgroup> row_count: array<u32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32) {
  // Each thread sums rows lid, lid + WG, ...; ignored rows add a loss of 0 and no count.
  var s = 0.0;
  var c = 0u;
  for (var r = lid; r < params.rows; r += WG) {
    s += row_loss[r];
    let label = labels[r];
    c += select(0u, 1u, label >= 0 && u32(label) < params.vocab);
  }
  loss_sum[lid] = s;
  row_count[lid] = c;
  workgroupBarrier();

  // Tree: at each level thread lid < stride folds in lid + stride; after log2(WG) levels slot 0 holds
  // the total, always added in the same order.
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) {
      loss_sum[lid] += loss_sum[lid + stride];
      row_count[lid] += row_count[lid + stride];
    }
    workgroupBarrier();
  }

  if (lid == 0u) {
    // The count is exact in f32 up to 2^24 rows; mean = Σ loss / count, or 0 when nothing counts.
    let count = f32(row_count[0]);
    stats[0] = select(0.0, loss_sum[0] / count, row_count[0] > 0u);
    stats[1] = count;
  }
}

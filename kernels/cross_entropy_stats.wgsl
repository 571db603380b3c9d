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

// workgroup_sum(lid, value): kernels/workgroup_sum.wgsl, a piece of this template.

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
  // Fixed trees, so the totals are always added in the same order. Counts are exact in f32 up to 2^24 rows.
  let loss = workgroup_sum(lid, s);
  let count = workgroup_sum(lid, f32(c));

  if (lid == 0u) {
    // mean = Σ loss / count, or 0 when nothing counts.
    stats[0] = select(0.0, loss / count, count > 0.0);
    stats[1] = count;
  }
}

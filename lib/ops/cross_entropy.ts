/**
 * Cross-entropy loss over rows of logits with integer labels, as `torch.nn.functional.cross_entropy`
 * with `ignore_index = -100` and mean reduction over the counted rows.
 *
 * Forward (two dispatches): one workgroup per row computes `lse = log Σ_j exp(x_j)` (max-subtracted,
 * online) and `rowLoss = lse − x[label]`; then one workgroup reduces the rows, in a fixed order, to
 * `stats = [mean loss, count]`. The count of counted rows changes with every batch, so it lives on the
 * GPU in `stats`, never in a uniform.
 *
 * Backward (one dispatch): `dlogits = (softmax(x) − onehot(label)) · lossScale / count`, the gradient
 * of `lossScale · mean loss`.
 *
 * A row is counted when its label is in `[0, vocab)`; `-100` (and, rather than reading out of bounds,
 * any other out-of-range label) marks it ignored: loss 0, gradient 0. Labels are validated on the CPU
 * when batches are built, not here.
 *
 * @module
 */

import forwardCode from "../../kernels/cross_entropy_forward.wgsl" with { type: "text" };
import statsCode from "../../kernels/cross_entropy_stats.wgsl" with { type: "text" };
import backwardCode from "../../kernels/cross_entropy_backward.wgsl" with { type: "text" };
import type { Gpu } from "../gpu/device.ts";
import { type Dispatch, grid, makeDispatch } from "../gpu/kernel.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { specialize } from "../gpu/template.ts";
import { checkSizes } from "./check_sizes.ts";
import { workgroupLogsumexp, workgroupSum } from "./pieces.ts";

const forwardTemplate = {
  file: "kernels/cross_entropy_forward.wgsl",
  code: forwardCode,
  pieces: [workgroupLogsumexp],
};
const statsKernel = specialize({
  file: "kernels/cross_entropy_stats.wgsl",
  code: statsCode,
  pieces: [workgroupSum],
});
const backwardKernel = specialize({ file: "kernels/cross_entropy_backward.wgsl", code: backwardCode });

/**
 * Threads per row of the forward (its logsumexp tree's width). On a GPU, 256 spread a row of a large
 * vocabulary over many lanes. On a CPU adapter (llvmpipe) a workgroup's 8-lane SIMD rows run as coroutines
 * and every barrier switches all of them, so one or two rows win: at 512 rows of 256 logits 8 threads took
 * 0.55 ms against 10.1 ms for 256; at vocabulary 32000, 16 threads beat 8 (3.6 against 4.9 ms for 64 rows)
 * and 256 (7.9 ms). Measured interleaved, `benchmarks/reduction_width.ts`.
 */
function forwardThreads(gpu: Gpu, vocab: number): number {
  if (!gpu.adapter.isFallbackAdapter) return 256;
  return vocab <= 4096 ? 8 : 16;
}

/** The label value of rows that do not count (PyTorch's default `ignore_index`). */
export const IGNORE_INDEX = -100;

/** Arguments of {@link crossEntropyForward}. */
export interface CrossEntropyForwardArgs {
  /** Output (rows): `−log softmax(logits)[label]`, 0 for ignored rows. */
  rowLoss: Tensor;
  /** Output (rows): logsumexp of each row, read by the backward pass. */
  lse: Tensor;
  /** Output (2): `[mean loss over counted rows, count of counted rows]`; `[0, 0]` when none count. */
  stats: Tensor;
  /** Input (rows, vocab). */
  logits: Tensor;
  /** Input (rows), i32 class indices; {@link IGNORE_INDEX} marks an ignored row. */
  labels: Tensor;
  /** Number of rows (tokens). */
  rows: number;
  /** Number of classes. */
  vocab: number;
  /** Threads per row of the logsumexp (a power of two), for benchmarks; default picked per device. */
  threads?: number;
}

/** Arguments of {@link crossEntropyBackward}. */
export interface CrossEntropyBackwardArgs {
  /** Output (rows, vocab), overwritten. */
  dlogits: Tensor;
  /** Input (rows, vocab), as given to the forward pass. */
  logits: Tensor;
  /** Input (rows), i32, as given to the forward pass. */
  labels: Tensor;
  /** Input (rows), written by the forward pass. */
  lse: Tensor;
  /** Input (2), written by the forward pass; element 1 is the count. */
  stats: Tensor;
  /** Number of rows. */
  rows: number;
  /** Number of classes. */
  vocab: number;
  /** Factor of the loss being differentiated, fixed at build time (e.g. 1 / gradAccumSteps); default 1. */
  lossScale?: number;
}

/** Throws a RangeError unless rows and vocab are positive integers whose product indexes in u32. */
function checkShape(rows: number, vocab: number): void {
  if (!Number.isInteger(rows) || rows < 1 || !Number.isInteger(vocab) || vocab < 1) {
    throw new RangeError(
      `Cannot compute cross-entropy: rows ${rows} and vocab ${vocab} must be positive integers`,
    );
  }
  if (rows * vocab > 0xffffffff) {
    throw new RangeError(
      `Cannot compute cross-entropy on ${rows}×${vocab} logits: split the batch into smaller rows`,
    );
  }
}

/**
 * Builds the two dispatches of the cross-entropy forward pass: per-row logsumexp and loss, then the
 * deterministic mean and count into `stats`.
 *
 * @throws {RangeError} naming the tensor whose size does not match `rows`/`vocab`.
 */
export async function crossEntropyForward(gpu: Gpu, args: CrossEntropyForwardArgs): Promise<Dispatch[]> {
  const { rowLoss, lse, stats, logits, labels, rows, vocab } = args;
  checkShape(rows, vocab);
  checkSizes(
    "cross-entropy forward",
    `logits (rows ${rows}, vocab ${vocab}), labels, rowLoss, lse (rows) and stats (2)`,
    [
      [logits, rows * vocab],
      [labels, rows],
      [rowLoss, rows],
      [lse, rows],
      [stats, 2],
    ],
  );
  const params = { u32: [rows, vocab] };
  return [
    await makeDispatch(
      gpu,
      specialize(forwardTemplate, { constants: { WG: args.threads ?? forwardThreads(gpu, vocab) } }),
      {
        params,
        tensors: [logits, labels, rowLoss, lse],
        workgroups: grid(gpu, rows),
      },
    ),
    await makeDispatch(gpu, statsKernel, {
      params,
      tensors: [rowLoss, labels, stats],
      workgroups: [1, 1, 1],
    }),
  ];
}

/**
 * Builds the dispatch of the cross-entropy backward pass. OVERWRITES `dlogits` with the gradient of
 * `lossScale · mean loss`; ignored rows (and every row when none count) get 0.
 *
 * @throws {RangeError} naming the tensor whose size does not match `rows`/`vocab`.
 */
export async function crossEntropyBackward(gpu: Gpu, args: CrossEntropyBackwardArgs): Promise<Dispatch[]> {
  const { dlogits, logits, labels, lse, stats, rows, vocab, lossScale = 1 } = args;
  checkShape(rows, vocab);
  checkSizes(
    "cross-entropy backward",
    `dlogits, logits (rows ${rows}, vocab ${vocab}), labels, lse (rows) and stats (2)`,
    [
      [dlogits, rows * vocab],
      [logits, rows * vocab],
      [labels, rows],
      [lse, rows],
      [stats, 2],
    ],
  );
  if (!Number.isFinite(lossScale)) {
    throw new RangeError(`Cannot scale the cross-entropy gradient by ${lossScale}: pass a finite lossScale`);
  }
  const n = rows * vocab;
  return [
    await makeDispatch(gpu, backwardKernel, {
      params: { u32: [n, vocab], f32: [lossScale] },
      tensors: [logits, labels, lse, stats, dlogits],
      workgroups: grid(gpu, Math.ceil(n / 256)),
    }),
  ];
}

/** What {@link crossEntropyForwardCpu} returns, in float64. */
export interface CrossEntropyCpuResult {
  /** (rows) loss per row, 0 for ignored rows. */
  rowLoss: Float64Array;
  /** (rows) logsumexp per row. */
  lse: Float64Array;
  /** Mean loss over counted rows, 0 when none count. */
  mean: number;
  /** Number of counted rows. */
  count: number;
}

/** Whether a row with `label` counts, as the kernels decide. */
function isCounted(label: number, vocab: number): boolean {
  return label >= 0 && label < vocab;
}

/** CPU reference of {@link crossEntropyForward} in float64; logits is (rows, vocab), labels is (rows). */
export function crossEntropyForwardCpu(
  logits: ArrayLike<number>,
  labels: ArrayLike<number>,
  rows: number,
  vocab: number,
): CrossEntropyCpuResult {
  const rowLoss = new Float64Array(rows);
  const lse = new Float64Array(rows);
  let total = 0;
  let count = 0;
  for (let r = 0; r < rows; r++) {
    const base = r * vocab;
    let max = -Infinity;
    for (let j = 0; j < vocab; j++) max = Math.max(max, logits[base + j]!);
    let sum = 0;
    for (let j = 0; j < vocab; j++) sum += Math.exp(logits[base + j]! - max);
    lse[r] = max + Math.log(sum);
    const label = labels[r]!;
    if (!isCounted(label, vocab)) continue;
    rowLoss[r] = lse[r]! - logits[base + label]!;
    total += rowLoss[r]!;
    count++;
  }
  return { rowLoss, lse, mean: count > 0 ? total / count : 0, count };
}

/** CPU reference of {@link crossEntropyBackward} in float64: returns dlogits (rows, vocab). */
export function crossEntropyBackwardCpu(
  logits: ArrayLike<number>,
  labels: ArrayLike<number>,
  rows: number,
  vocab: number,
  lossScale = 1,
): Float64Array {
  const { lse, count } = crossEntropyForwardCpu(logits, labels, rows, vocab);
  const dlogits = new Float64Array(rows * vocab);
  if (count === 0) return dlogits;
  const scale = lossScale / count;
  for (let r = 0; r < rows; r++) {
    const label = labels[r]!;
    if (!isCounted(label, vocab)) continue;
    const base = r * vocab;
    for (let j = 0; j < vocab; j++) {
      const p = Math.exp(logits[base + j]! - lse[r]!);
      dlogits[base + j] = (p - (j === label ? 1 : 0)) * scale;
    }
  }
  return dlogits;
}

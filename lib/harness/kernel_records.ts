/**
 * The napkin math behind the kernel benchmark's GFLOP/s and GB/s: the work an op must do (model FLOPs,
 * minimum bytes), independent of how the kernel does it; the records themselves are in `lib/records.ts`.
 *
 * @module
 */

import type { KernelRecord } from "../records.ts";
import { gflopsPerSecond, gigabytesPerSecond } from "./timing.ts";

/** FLOPs of a matmul `[M,K]·[K,N]` (any layout): one multiply and one add per term, `2·M·N·K·batch`. */
export function matmulFlops(m: number, n: number, k: number, batch = 1): number {
  return 2 * m * n * k * batch;
}

/** Shape of an attention case. */
export interface AttentionCost {
  /** Sequences in the batch. */
  batch: number;
  /** Tokens per sequence. */
  seqLen: number;
  /** Query heads. */
  heads: number;
  /** Head dimension. */
  headDim: number;
}

/**
 * Model FLOPs of causal attention forward and backward: with `pairs = batch·heads·T(T+1)/2` causal
 * query-key pairs, forward is two matmuls (`S = QKᵀ`, `O = PV`), `4·pairs·D`; backward is four
 * (`dV = PᵀdO`, `dP = dO·Vᵀ`, `dQ = dS·K`, `dK = dSᵀQ`), `8·pairs·D`. Recomputing `S` in backward (as
 * flash attention does) is not counted, so this is the work the math needs, not what the kernel does.
 */
export function attentionFlops(cost: AttentionCost): { forward: number; backward: number } {
  const pairs = (cost.batch * cost.heads * cost.seqLen * (cost.seqLen + 1)) / 2;
  return { forward: 4 * pairs * cost.headDim, backward: 8 * pairs * cost.headDim };
}

/**
 * Minimum bytes of RMSNorm forward plus backward, float32: forward reads x and weight and writes out
 * and rstd; backward reads dout, x, weight and rstd and writes dx and dweight.
 * Total `4·(5·rows·dim + 3·dim + 2·rows)`.
 */
export function rmsnormBytes(rows: number, dim: number): number {
  return 4 * (5 * rows * dim + 3 * dim + 2 * rows);
}

/** GFLOP/s at the best time, or null when the record counts no FLOPs. */
export function recordGflops(record: KernelRecord): number | null {
  return record.flops > 0 ? gflopsPerSecond(record.flops, record.timing.bestMs) : null;
}

/** GB/s at the best time, or null when the record counts no bytes. */
export function recordGigabytes(record: KernelRecord): number | null {
  return record.bytes > 0 ? gigabytesPerSecond(record.bytes, record.timing.bestMs) : null;
}

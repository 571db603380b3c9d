/**
 * Causal self-attention with grouped-query heads (GQA), forward and backward, with the float64 CPU
 * reference the tests use.
 *
 * Forward: for query row i of head h, at absolute position `keyLen − queryLen + i`,
 * `out_i = Σ_{j ≤ pos} softmax_j(scale·q_i·k_j)·v_j`, where head h reads kv head
 * `floor(h / (heads / kvHeads))` (HF `repeat_kv`) and `lse_i = log Σ_j exp(scale·q_i·k_j)` is kept
 * for backward. The kernel is flash style (online softmax), so no score matrix is stored.
 *
 * Backward (training case, `queryLen = keyLen = keyCapacity = seqLen`), FlashAttention-2 style:
 * `P_ij = exp(scale·q_i·k_j − lse_i)`, `dP_ij = dout_i·v_j`, `D_i = dout_i·out_i`,
 * `dS_ij = P_ij·(dP_ij − D_i)`, then `dq_i = scale·Σ_j dS_ij·k_j`, `dk_j = scale·Σ_i dS_ij·q_i`,
 * `dv_j = Σ_i P_ij·dout_i`, where dk and dv also sum over the query heads sharing the kv head.
 * Two dispatches: dq (which also stores D), then dk and dv, each thread owning a few key rows and
 * looping over its heads and queries in a fixed order: deterministic, no atomics.
 *
 * The kernels are templates expanded per headDim: each thread keeps up to 4 whole head rows in
 * unrolled registers (vec4 when headDim % 4 == 0), so each k/v (or q/dout) row it loads serves all
 * of them; on llvmpipe a storage load costs a loop over SIMD lanes, and this cut the time ~8×.
 *
 * See FlashAttention-2 (Dao, 2023), https://arxiv.org/abs/2307.08691, Algorithms 1 and 2.
 *
 * @module
 */

import forwardCode from "../../kernels/attention_forward.wgsl" with { type: "text" };
import dqCode from "../../kernels/attention_backward_dq.wgsl" with { type: "text" };
import dkdvCode from "../../kernels/attention_backward_dkdv.wgsl" with { type: "text" };
import commonPiece from "../../kernels/attention_common.wgsl" with { type: "text" };
import type { Gpu } from "../gpu/device.ts";
import { type Dispatch, grid, type KernelSource, makeDispatch } from "../gpu/kernel.ts";
import { type KernelTemplate, specialize } from "../gpu/template.ts";
import { scratchTensor, type Tensor } from "../gpu/tensor.ts";
import { checkSizes } from "./check_sizes.ts";

/** Largest head size: the kernels keep whole head rows in registers, unrolled. */
const MAX_HEAD_DIM = 256;

/** Threads per workgroup: a few 8-lane SIMD rows on CPU adapters, so that few threads fill the cores. */
const WORKGROUP = 16;

/** How a kernel template is expanded for one headDim: vector type, vectors per row, rows per thread. */
type Unrolling = {
  /** `"vec4f"` when headDim % 4 == 0, else `"f32"`. */
  vector: "vec4f" | "f32";
  /** Vectors in one head row. */
  nv: number;
  /** Rows (queries or keys) per thread. */
  rows: number;
};

/**
 * Picks the unrolling for `headDim`: vec4 when it divides, and as many rows per thread as keep the
 * per-thread registers (rows × vectors) near `budget`, at most 4.
 */
function unrollingFor(headDim: number, budget: number): Unrolling {
  const vector = headDim % 4 === 0 ? "vec4f" : "f32";
  const nv = vector === "vec4f" ? headDim / 4 : headDim;
  return { vector, nv, rows: Math.max(1, Math.min(4, Math.floor(budget / nv))) };
}

/**
 * The kernel of `template` (kernels/attention_common.wgsl before it) unrolled for `u`, once per variant:
 * slots `{{V}}`, `{{NV}}`, `{{R}}`, `{{DOT}}`; lines naming `{r}` repeat per row, `{c}` per vector.
 */
function kernelFor(template: KernelTemplate, u: Unrolling): KernelSource {
  return specialize(template, u, ({ vector, nv, rows }) => ({
    slots: { V: vector, NV: nv, R: rows, DOT: vector === "vec4f" ? "dot(a, b)" : "a * b" },
    repeat: { r: rows, c: nv },
    constants: { WG: WORKGROUP },
  }));
}

/** A kernel template of this file, with the shared attention piece. */
function attentionTemplate(name: string, code: string): KernelTemplate {
  return {
    file: `kernels/${name}.wgsl`,
    code,
    pieces: [{ file: "kernels/attention_common.wgsl", code: commonPiece }],
  };
}

const forwardTemplate = attentionTemplate("attention_forward", forwardCode);
const dqTemplate = attentionTemplate("attention_backward_dq", dqCode);
const dkdvTemplate = attentionTemplate("attention_backward_dkdv", dkdvCode);

/** Shape of a forward call; see {@link attentionForward}. */
export interface AttentionForwardShape {
  /** Sequences in the batch. */
  batch: number;
  /** Query rows in this call (the sequence length when training, 1 per generated token). */
  queryLen: number;
  /** Valid key positions, queries included (`keyLen ≥ queryLen`). */
  keyLen: number;
  /** Key positions the k and v tensors hold (`keyCapacity ≥ keyLen`). */
  keyCapacity: number;
  /** Query heads. */
  heads: number;
  /** Key/value heads; must divide `heads`. */
  kvHeads: number;
  /** Size of one head. */
  headDim: number;
  /** Score scale; `1/sqrt(headDim)` when absent. */
  scale?: number;
}

/** Arguments of {@link attentionForward}: outputs, inputs, then the shape. */
export interface AttentionForwardArgs extends AttentionForwardShape {
  /** Output (batch, queryLen, heads, headDim). */
  out: Tensor;
  /** Logsumexp of each score row, (batch, heads, queryLen), kept for backward. */
  lse: Tensor;
  /** Queries (batch, queryLen, heads, headDim). */
  q: Tensor;
  /** Keys (batch, keyCapacity, kvHeads, headDim); positions ≥ keyLen are never read. */
  k: Tensor;
  /** Values (batch, keyCapacity, kvHeads, headDim); positions ≥ keyLen are never read. */
  v: Tensor;
}

/** Shape of the training case; see {@link attentionBackward}. */
export interface AttentionBackwardShape {
  /** Sequences in the batch. */
  batch: number;
  /** Sequence length (queries = keys = capacity). */
  seqLen: number;
  /** Query heads. */
  heads: number;
  /** Key/value heads; must divide `heads`. */
  kvHeads: number;
  /** Size of one head. */
  headDim: number;
  /** Score scale; `1/sqrt(headDim)` when absent. */
  scale?: number;
}

/** Arguments of {@link attentionBackward}: gradient outputs, inputs, then the shape. */
export interface AttentionBackwardArgs extends AttentionBackwardShape {
  /** Gradient of q (batch, seqLen, heads, headDim), overwritten. */
  dq: Tensor;
  /** Gradient of k (batch, seqLen, kvHeads, headDim), overwritten. */
  dk: Tensor;
  /** Gradient of v (batch, seqLen, kvHeads, headDim), overwritten. */
  dv: Tensor;
  /** Gradient of the output (batch, seqLen, heads, headDim). */
  dout: Tensor;
  /** Forward output (batch, seqLen, heads, headDim). */
  out: Tensor;
  /** Forward logsumexp (batch, heads, seqLen). */
  lse: Tensor;
  /** Queries (batch, seqLen, heads, headDim). */
  q: Tensor;
  /** Keys (batch, seqLen, kvHeads, headDim). */
  k: Tensor;
  /** Values (batch, seqLen, kvHeads, headDim). */
  v: Tensor;
}

// Register budgets (rows × vectors per head row) of the kernels' unrolling; see unrollingFor.
const FORWARD_BUDGET = 32;
const DQ_BUDGET = 32;
const DKDV_BUDGET = 16;

/**
 * Builds the forward dispatch: writes `out` and `lse`. One dispatch; each thread owns up to 4 query
 * rows of one head and loops over their keys once. `keyLen` lives in the uniform params, so a
 * generation loop whose keyLen grows builds a new dispatch per token (the pipeline is cached).
 *
 * @throws {RangeError} when a size is not a positive integer, `kvHeads` does not divide `heads`,
 * `queryLen ≤ keyLen ≤ keyCapacity` fails, or a tensor's size does not match the shape.
 */
export async function attentionForward(gpu: Gpu, args: AttentionForwardArgs): Promise<Dispatch[]> {
  checkForwardShape(args);
  const { batch, queryLen, keyLen, keyCapacity, heads, kvHeads, headDim } = args;
  const qSize = batch * queryLen * heads * headDim;
  const kvSize = batch * keyCapacity * kvHeads * headDim;
  checkSizes("attention forward", "the shape documented on the argument", [
    [args.out, qSize],
    [args.lse, batch * heads * queryLen],
    [args.q, qSize],
    [args.k, kvSize],
    [args.v, kvSize],
  ]);
  const u = unrollingFor(headDim, FORWARD_BUDGET);
  const rowBlocks = Math.ceil(queryLen / u.rows);
  const threads = batch * heads * rowBlocks;
  const dispatch = await makeDispatch(gpu, kernelFor(forwardTemplate, u), {
    params: {
      u32: [rowBlocks, threads, queryLen, keyLen, keyCapacity, heads, kvHeads],
      f32: [scaleOf(args)],
    },
    tensors: [args.q, args.k, args.v, args.out, args.lse],
    workgroups: grid(gpu, Math.ceil(threads / WORKGROUP)),
  });
  return [dispatch];
}

/**
 * Builds the backward dispatches (training case): OVERWRITES `dq`, `dk` and `dv`. Two dispatches:
 * dq, one thread per few query rows (which also stores `D_i = dout_i·out_i` in the scratch tensor
 * "attention.delta"), then dk and dv, one thread per few key rows of a kv head looping over the
 * group's heads and the queries that see them. Deterministic: every sum runs in a fixed order.
 *
 * @throws {RangeError} when a size is not a positive integer, `kvHeads` does not divide `heads`,
 * or a tensor's size does not match the shape.
 */
export async function attentionBackward(gpu: Gpu, args: AttentionBackwardArgs): Promise<Dispatch[]> {
  const { batch, seqLen, heads, kvHeads, headDim } = args;
  checkForwardShape({ ...args, queryLen: seqLen, keyLen: seqLen, keyCapacity: seqLen });
  const qSize = batch * seqLen * heads * headDim;
  const kvSize = batch * seqLen * kvHeads * headDim;
  checkSizes("attention backward", "the shape documented on the argument", [
    ...[args.dq, args.dout, args.out, args.q].map((t) => [t, qSize] as const),
    ...[args.dk, args.dv, args.k, args.v].map((t) => [t, kvSize] as const),
    [args.lse, batch * heads * seqLen],
  ]);
  const delta = scratchTensor(gpu, "attention.delta", [batch, heads, seqLen]);
  const scale = scaleOf(args);
  const uq = unrollingFor(headDim, DQ_BUDGET);
  const dqBlocks = Math.ceil(seqLen / uq.rows);
  const dqThreads = batch * heads * dqBlocks;
  const dq = await makeDispatch(gpu, kernelFor(dqTemplate, uq), {
    params: { u32: [dqBlocks, dqThreads, seqLen, heads, kvHeads], f32: [scale] },
    tensors: [args.q, args.k, args.v, args.out, args.dout, args.lse, args.dq, delta],
    workgroups: grid(gpu, Math.ceil(dqThreads / WORKGROUP)),
  });
  const ukv = unrollingFor(headDim, DKDV_BUDGET);
  const kvBlocks = Math.ceil(seqLen / ukv.rows);
  const kvThreads = batch * kvHeads * kvBlocks;
  const dkdv = await makeDispatch(gpu, kernelFor(dkdvTemplate, ukv), {
    params: { u32: [kvBlocks, kvThreads, seqLen, heads, kvHeads], f32: [scale] },
    tensors: [args.q, args.k, args.v, args.dout, args.lse, delta, args.dk, args.dv],
    workgroups: grid(gpu, Math.ceil(kvThreads / WORKGROUP)),
  });
  return [dq, dkdv];
}

/** Throws a RangeError unless the shape is consistent (positive integers, GQA grouping, lengths). */
function checkForwardShape(shape: AttentionForwardShape): void {
  const { batch, queryLen, keyLen, keyCapacity, heads, kvHeads, headDim } = shape;
  const sizes = { batch, queryLen, keyLen, keyCapacity, heads, kvHeads, headDim };
  for (const [name, value] of Object.entries(sizes)) {
    if (!Number.isInteger(value) || value < 1) {
      throw new RangeError(`Cannot build attention: ${name} is ${value}; pass a positive integer`);
    }
  }
  if (headDim > MAX_HEAD_DIM) {
    throw new RangeError(
      `Cannot build attention: headDim ${headDim} exceeds ${MAX_HEAD_DIM}, the largest the unrolled kernels ` +
        `take; use more heads of a smaller size`,
    );
  }
  if (heads % kvHeads !== 0) {
    throw new RangeError(
      `Cannot build attention: kvHeads ${kvHeads} does not divide heads ${heads}; pick kvHeads dividing heads`,
    );
  }
  if (!(queryLen <= keyLen && keyLen <= keyCapacity)) {
    throw new RangeError(
      `Cannot build attention: need queryLen ≤ keyLen ≤ keyCapacity, got ${queryLen}, ${keyLen}, ` +
        `${keyCapacity}; count the queries among the keys and size the cache for all of them`,
    );
  }
}

/** The score scale: the given one, else `1/sqrt(headDim)`. */
function scaleOf(shape: { headDim: number; scale?: number }): number {
  return shape.scale ?? 1 / Math.sqrt(shape.headDim);
}

/** Output and logsumexp of {@link attentionForwardCpu}. */
export interface AttentionForwardCpuResult {
  /** (batch, queryLen, heads, headDim). */
  out: Float64Array;
  /** (batch, heads, queryLen). */
  lse: Float64Array;
}

/**
 * CPU reference of {@link attentionForward} in float64: explicit scores, max-subtracted softmax.
 * q is (batch, queryLen, heads, headDim); k and v are (batch, keyCapacity, kvHeads, headDim).
 */
export function attentionForwardCpu(
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  shape: AttentionForwardShape,
): AttentionForwardCpuResult {
  checkForwardShape(shape);
  const { batch, queryLen: tq, keyLen, keyCapacity: cap, heads, kvHeads, headDim: dim } = shape;
  const scale = scaleOf(shape);
  const group = heads / kvHeads;
  const out = new Float64Array(batch * tq * heads * dim);
  const lse = new Float64Array(batch * heads * tq);
  const scores = new Float64Array(keyLen);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      const kvh = Math.floor(h / group);
      for (let i = 0; i < tq; i++) {
        const qRow = ((b * tq + i) * heads + h) * dim;
        const keys = keyLen - tq + i + 1;
        let max = -Infinity;
        for (let j = 0; j < keys; j++) {
          const kRow = ((b * cap + j) * kvHeads + kvh) * dim;
          let s = 0;
          for (let d = 0; d < dim; d++) s += q[qRow + d]! * k[kRow + d]!;
          scores[j] = s * scale;
          max = Math.max(max, scores[j]!);
        }
        let sum = 0;
        for (let j = 0; j < keys; j++) sum += scores[j] = Math.exp(scores[j]! - max);
        for (let j = 0; j < keys; j++) {
          const vRow = ((b * cap + j) * kvHeads + kvh) * dim;
          const p = scores[j]! / sum;
          for (let d = 0; d < dim; d++) out[qRow + d] = out[qRow + d]! + p * v[vRow + d]!;
        }
        lse[(b * heads + h) * tq + i] = max + Math.log(sum);
      }
    }
  }
  return { out, lse };
}

/** Gradients of {@link attentionBackwardCpu}. */
export interface AttentionBackwardCpuResult {
  /** (batch, seqLen, heads, headDim). */
  dq: Float64Array;
  /** (batch, seqLen, kvHeads, headDim). */
  dk: Float64Array;
  /** (batch, seqLen, kvHeads, headDim). */
  dv: Float64Array;
}

/**
 * CPU reference of {@link attentionBackward} in float64 (training case): recomputes the softmax
 * row P, then `dS_j = P_j·(dP_j − Σ_l P_l·dP_l)` with `dP_j = dout_i·v_j`, llm.c style.
 */
export function attentionBackwardCpu(
  dout: ArrayLike<number>,
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  shape: AttentionBackwardShape,
): AttentionBackwardCpuResult {
  checkForwardShape({ ...shape, queryLen: shape.seqLen, keyLen: shape.seqLen, keyCapacity: shape.seqLen });
  const { batch, seqLen: t, heads, kvHeads, headDim: dim } = shape;
  const scale = scaleOf(shape);
  const group = heads / kvHeads;
  const dq = new Float64Array(batch * t * heads * dim);
  const dk = new Float64Array(batch * t * kvHeads * dim);
  const dv = new Float64Array(batch * t * kvHeads * dim);
  const p = new Float64Array(t);
  const dp = new Float64Array(t);
  const kvRow = (b: number, j: number, kvh: number) => ((b * t + j) * kvHeads + kvh) * dim;
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      const kvh = Math.floor(h / group);
      for (let i = 0; i < t; i++) {
        const qRow = ((b * t + i) * heads + h) * dim;
        // Softmax row P over keys 0..i, and dP_j = dout_i·v_j.
        let max = -Infinity;
        for (let j = 0; j <= i; j++) {
          let s = 0;
          for (let d = 0; d < dim; d++) s += q[qRow + d]! * k[kvRow(b, j, kvh) + d]!;
          p[j] = s * scale;
          max = Math.max(max, p[j]!);
        }
        let sum = 0;
        for (let j = 0; j <= i; j++) sum += p[j] = Math.exp(p[j]! - max);
        let pdp = 0;
        for (let j = 0; j <= i; j++) {
          p[j] = p[j]! / sum;
          let s = 0;
          for (let d = 0; d < dim; d++) s += dout[qRow + d]! * v[kvRow(b, j, kvh) + d]!;
          dp[j] = s;
          pdp += p[j]! * s;
        }
        for (let j = 0; j <= i; j++) {
          const row = kvRow(b, j, kvh);
          const ds = p[j]! * (dp[j]! - pdp);
          for (let d = 0; d < dim; d++) {
            dq[qRow + d] = dq[qRow + d]! + scale * ds * k[row + d]!;
            dk[row + d] = dk[row + d]! + scale * ds * q[qRow + d]!;
            dv[row + d] = dv[row + d]! + p[j]! * dout[qRow + d]!;
          }
        }
      }
    }
  }
  return { dq, dk, dv };
}

/**
 * Token embedding lookup, `out[t, :] = table[ids[t], :]`, its deterministic backward, and their float64
 * CPU references.
 *
 * The backward needs no atomics: the caller builds, on the CPU, an index of token positions grouped by
 * id ({@link embeddingBackwardIndex}) and writes it into two u32 tensors each step; each row of `dtable`
 * then sums its own tokens in a fixed order.
 *
 * @module
 */

import forwardCode from "../../kernels/embedding.wgsl" with { type: "text" };
import backwardCode from "../../kernels/embedding_backward.wgsl" with { type: "text" };
import type { Gpu } from "../gpu/device.ts";
import { type Dispatch, grid, type KernelSource, makeDispatch } from "../gpu/kernel.ts";
import { type KernelTemplate, specialize } from "../gpu/template.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { checkSizes } from "./check_sizes.ts";

const forwardTemplate = { file: "kernels/embedding.wgsl", code: forwardCode };
const backwardTemplate = { file: "kernels/embedding_backward.wgsl", code: backwardCode };

/** Threads per workgroup, as the kernels declare. */
const THREADS = 256;

/** Arguments of {@link embeddingForward}. */
export interface EmbeddingForwardArgs {
  /** Embedded tokens, (tokens, dim). */
  out: Tensor;
  /** Token ids, (tokens) u32; an id ≥ vocab gives a row of zeros. */
  ids: Tensor;
  /** Embedding table, (vocab, dim). */
  table: Tensor;
  /** Number of tokens. */
  tokens: number;
  /** Embedding size. */
  dim: number;
  /** Rows of the table. */
  vocab: number;
}

/** Arguments of {@link embeddingBackward}. */
export interface EmbeddingBackwardArgs {
  /** Gradient of the table, (vocab, dim): overwritten, or added into when `accumulate`. */
  dtable: Tensor;
  /** Gradient of the output, (tokens, dim). */
  dout: Tensor;
  /** Token positions sorted by id, stably, (tokens) u32: `order` of {@link embeddingBackwardIndex}. */
  order: Tensor;
  /** Where each id's run begins in `order`, (vocab + 1) u32: `starts` of {@link embeddingBackwardIndex}. */
  starts: Tensor;
  /** Rows of the table. */
  vocab: number;
  /** Embedding size. */
  dim: number;
  /** Number of tokens. */
  tokens: number;
  /** Add into `dtable` instead of overwriting it (tied embeddings: the LM head's gradient is there). */
  accumulate?: boolean;
}

/** The kernel of `template` with `Values` vec4f rows when `dim` is a multiple of 4, else f32. */
function kernelFor(
  template: KernelTemplate,
  dim: number,
  constants?: Record<string, number>,
): { kernel: KernelSource; lanes: number } {
  const lanes = dim % 4 === 0 ? 4 : 1;
  const kernel = specialize(template, { slots: { VALUES: lanes === 4 ? "vec4f" : "f32" }, constants });
  return { kernel, lanes };
}

/**
 * Builds the lookup: one dispatch. Out-of-range ids give zero rows (no out-of-bounds read).
 *
 * @example Look up three tokens in a (3, 2) table; id 7 is out of range
 * ```ts
 * import assert from "node:assert/strict";
 * import { requestGpu } from "../gpu/device.ts";
 * import { runDispatches } from "../gpu/kernel.ts";
 * import { createTensor, readTensor } from "../gpu/tensor.ts";
 * import { embeddingForward } from "./embedding.ts";
 *
 * const gpu = await requestGpu();
 * const table = createTensor(gpu, "table", [3, 2], new Float32Array([0, 1, 10, 11, 20, 21]));
 * const ids = createTensor(gpu, "ids", [3], new Uint32Array([2, 0, 7]));
 * const out = createTensor(gpu, "out", [3, 2]);
 * await runDispatches(gpu, await embeddingForward(gpu, { out, ids, table, tokens: 3, dim: 2, vocab: 3 }));
 * assert.deepEqual(await readTensor(out), new Float32Array([20, 21, 0, 1, 0, 0]));
 * gpu.device.destroy();
 * ```
 */
export async function embeddingForward(gpu: Gpu, args: EmbeddingForwardArgs): Promise<Dispatch[]> {
  const { tokens, dim, vocab } = args;
  const what = `(tokens ${tokens}, dim ${dim}, vocab ${vocab})`;
  checkSizes("embedding forward", what, [[args.out, tokens * dim], [args.ids, tokens], [
    args.table,
    vocab * dim,
  ]]);
  const { kernel, lanes } = kernelFor(forwardTemplate, dim);
  const count = (tokens * dim) / lanes;
  return [
    await makeDispatch(gpu, kernel, {
      params: { u32: [count, dim / lanes, vocab] },
      tensors: [args.ids, args.table, args.out],
      workgroups: grid(gpu, Math.ceil(count / THREADS)),
    }),
  ];
}

/**
 * Builds the backward: one dispatch, one thread per value of `dtable`, each summing its id's tokens in
 * `order`. Overwrites `dtable` (rows of unused ids become 0), or adds into it when `accumulate`.
 *
 * @example Sum the gradients of tokens 0 and 2, which share id 2
 * ```ts
 * import assert from "node:assert/strict";
 * import { requestGpu } from "../gpu/device.ts";
 * import { runDispatches } from "../gpu/kernel.ts";
 * import { createTensor, readTensor } from "../gpu/tensor.ts";
 * import { embeddingBackward, embeddingBackwardIndex } from "./embedding.ts";
 *
 * const gpu = await requestGpu();
 * const { order, starts } = embeddingBackwardIndex(new Uint32Array([2, 0, 2]), 3);
 * const args = {
 *   dtable: createTensor(gpu, "dtable", [3, 2]),
 *   dout: createTensor(gpu, "dout", [3, 2], new Float32Array([1, 2, 3, 4, 5, 6])),
 *   order: createTensor(gpu, "order", [3], order),
 *   starts: createTensor(gpu, "starts", [4], starts),
 *   vocab: 3,
 *   dim: 2,
 *   tokens: 3,
 * };
 * await runDispatches(gpu, await embeddingBackward(gpu, args));
 * assert.deepEqual(await readTensor(args.dtable), new Float32Array([3, 4, 0, 0, 6, 8]));
 * gpu.device.destroy();
 * ```
 */
export async function embeddingBackward(gpu: Gpu, args: EmbeddingBackwardArgs): Promise<Dispatch[]> {
  const { tokens, dim, vocab } = args;
  const what = `(tokens ${tokens}, dim ${dim}, vocab ${vocab})`;
  checkSizes("embedding backward", what, [
    [args.dtable, vocab * dim],
    [args.dout, tokens * dim],
    [args.order, tokens],
    [args.starts, vocab + 1],
  ]);
  const { kernel, lanes } = kernelFor(backwardTemplate, dim, { ACCUMULATE: args.accumulate ? 1 : 0 });
  const count = (vocab * dim) / lanes;
  return [
    await makeDispatch(gpu, kernel, {
      params: { u32: [count, dim / lanes] },
      tensors: [args.dout, args.order, args.starts, args.dtable],
      workgroups: grid(gpu, Math.ceil(count / THREADS)),
    }),
  ];
}

/**
 * Groups token positions by id for {@link embeddingBackward} (a stable counting sort): `order` lists
 * positions sorted by id, `starts[v]..starts[v+1]` is id v's run in `order`.
 *
 * @throws {RangeError} naming the id and the vocab size when an id is out of range.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { embeddingBackwardIndex } from "./embedding.ts";
 *
 * const { order, starts } = embeddingBackwardIndex(new Uint32Array([2, 0, 2]), 3);
 * assert.deepEqual(order, new Uint32Array([1, 0, 2]));
 * assert.deepEqual(starts, new Uint32Array([0, 1, 1, 3]));
 * ```
 */
export function embeddingBackwardIndex(
  ids: Uint32Array,
  vocab: number,
): { order: Uint32Array<ArrayBuffer>; starts: Uint32Array<ArrayBuffer> } {
  const starts = new Uint32Array(vocab + 1);
  ids.forEach((id, t) => {
    if (id >= vocab) {
      throw new RangeError(
        `Cannot build the embedding index: token ${t} has id ${id}, outside vocab size ${vocab}; ` +
          `check the tokenizer against the model's vocab size`,
      );
    }
    starts[id + 1]!++;
  });
  for (let v = 0; v < vocab; v++) starts[v + 1]! += starts[v]!;
  const next = starts.slice(0, vocab);
  const order = new Uint32Array(ids.length);
  ids.forEach((id, t) => order[next[id]!++] = t);
  return { order, starts };
}

/** CPU reference of {@link embeddingForward} in float64: zero rows for ids ≥ vocab. */
export function embeddingForwardCpu(
  ids: ArrayLike<number>,
  table: ArrayLike<number>,
  dim: number,
  vocab: number,
): Float64Array {
  const out = new Float64Array(ids.length * dim);
  for (let t = 0; t < ids.length; t++) {
    const id = ids[t]!;
    if (id >= vocab) continue;
    for (let j = 0; j < dim; j++) out[t * dim + j] = table[id * dim + j]!;
  }
  return out;
}

/** CPU reference of {@link embeddingBackward} in float64 (overwriting): `dtable[ids[t]] += dout[t]`. */
export function embeddingBackwardCpu(
  ids: ArrayLike<number>,
  dout: ArrayLike<number>,
  dim: number,
  vocab: number,
): Float64Array {
  const dtable = new Float64Array(vocab * dim);
  for (let t = 0; t < ids.length; t++) {
    const row = ids[t]! * dim;
    for (let j = 0; j < dim; j++) dtable[row + j] = dtable[row + j]! + dout[t * dim + j]!;
  }
  return dtable;
}

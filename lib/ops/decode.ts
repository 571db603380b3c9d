/**
 * The two ops generation needs beyond the forward pass: writing new keys/values into a KV cache, and
 * greedy token choice (argmax of the last position's logits) written straight into the next step's
 * input ids, so a whole greedy generation is one command buffer with no read-back per token.
 * Neither has a backward: generation does not train.
 *
 * @module
 */

import argmaxCode from "../../kernels/argmax.wgsl" with { type: "text" };
import cacheCode from "../../kernels/kv_cache_write.wgsl" with { type: "text" };
import type { Gpu } from "../gpu/device.ts";
import { type Dispatch, grid, makeDispatch } from "../gpu/kernel.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { specialize } from "../gpu/template.ts";
import { workgroupArgmax } from "./pieces.ts";

const cacheKernel = specialize({ file: "kernels/kv_cache_write.wgsl", code: cacheCode });
const argmaxKernel = specialize({ file: "kernels/argmax.wgsl", code: argmaxCode, pieces: [workgroupArgmax] });

/** Arguments of {@link kvCacheWrite}: `cache[b, offset + t, :] = src[b, t, :]`. */
export interface KvCacheWriteArgs {
  /** Cache (batch, capacity, width). */
  cache: Tensor;
  /** New rows (batch, newLen, width). */
  src: Tensor;
  batch: number;
  newLen: number;
  width: number;
  capacity: number;
  /** Position of the first new row. */
  offset: number;
}

/** Builds the dispatch that copies new keys or values into the cache. */
export async function kvCacheWrite(gpu: Gpu, a: KvCacheWriteArgs): Promise<Dispatch[]> {
  if (a.offset + a.newLen > a.capacity) {
    throw new RangeError(
      `Cannot write ${a.newLen} tokens at position ${a.offset} into KV cache "${a.cache.name}" of ` +
        `${a.capacity}; build the cache with a larger capacity`,
    );
  }
  if (a.src.size !== a.batch * a.newLen * a.width || a.cache.size !== a.batch * a.capacity * a.width) {
    throw new RangeError(`Cannot write "${a.src.name}" into "${a.cache.name}": sizes do not match the shape`);
  }
  const n = a.batch * a.newLen * a.width;
  return [
    await makeDispatch(gpu, cacheKernel, {
      params: { u32: [a.batch, a.newLen, a.width, a.capacity, a.offset] },
      tensors: [a.src, a.cache],
      workgroups: grid(gpu, Math.ceil(n / 256)),
    }),
  ];
}

/** Arguments of {@link greedyArgmax}. */
export interface GreedyArgmaxArgs {
  /** Chosen tokens (batch) u32: the next step's input ids. */
  next: Tensor;
  /** All generated tokens (batch, genStride) u32; the choice is written at `column`. */
  generated: Tensor;
  /** Logits (batch, queryLen, vocab); the last position of each sequence is used. */
  logits: Tensor;
  batch: number;
  queryLen: number;
  vocab: number;
  genStride: number;
  column: number;
}

/** Builds the dispatch choosing the highest logit of each sequence's last position (ties: lowest id). */
export async function greedyArgmax(gpu: Gpu, a: GreedyArgmaxArgs): Promise<Dispatch[]> {
  if (a.logits.size !== a.batch * a.queryLen * a.vocab) {
    throw new RangeError(
      `Cannot take argmax of "${a.logits.name}": expected ${a.batch}×${a.queryLen}×${a.vocab}`,
    );
  }
  if (a.column >= a.genStride || a.generated.size !== a.batch * a.genStride || a.next.size !== a.batch) {
    throw new RangeError(`Cannot write generated token ${a.column} into "${a.generated.name}"`);
  }
  return [
    await makeDispatch(gpu, argmaxKernel, {
      params: { u32: [a.queryLen, a.vocab, a.genStride, a.column] },
      tensors: [a.logits, a.next, a.generated],
      workgroups: [a.batch, 1, 1],
    }),
  ];
}

/** CPU reference of {@link greedyArgmax}: the lowest index of the maximum of each last row. */
export function greedyArgmaxCpu(
  logits: ArrayLike<number>,
  batch: number,
  queryLen: number,
  vocab: number,
): number[] {
  const out: number[] = [];
  for (let b = 0; b < batch; b++) {
    const base = (b * queryLen + queryLen - 1) * vocab;
    let best = 0;
    for (let j = 1; j < vocab; j++) if (logits[base + j]! > logits[base + best]!) best = j;
    out.push(best);
  }
  return out;
}

/** CPU reference of {@link kvCacheWrite}, in place on `cache`. */
export function kvCacheWriteCpu(
  cache: Float64Array,
  src: ArrayLike<number>,
  a: Omit<KvCacheWriteArgs, "cache" | "src">,
): void {
  for (let b = 0; b < a.batch; b++) {
    for (let t = 0; t < a.newLen; t++) {
      for (let c = 0; c < a.width; c++) {
        cache[(b * a.capacity + a.offset + t) * a.width + c] = src[(b * a.newLen + t) * a.width + c]!;
      }
    }
  }
}

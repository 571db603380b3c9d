/**
 * One forward step over new tokens that writes their keys and values into a KV cache and attends to all the
 * cached positions before them: the building block of greedy generation (`generate.ts`) and of scoring
 * continuations after a shared context (`continuation.ts`). A step's activations are allocated once per
 * shape and reused by every step of that shape.
 *
 * @module
 */

import type { Dispatch } from "../gpu/kernel.ts";
import { ownedAllocator, type Tensor } from "../gpu/tensor.ts";
import { kvCacheWrite } from "../ops/decode.ts";
import {
  allocateLayer,
  allocateScratch,
  embedForward,
  type ForwardScratch,
  type ForwardShape,
  headForward,
  type LayerActivations,
  layerForward,
} from "./forward.ts";
import type { LlamaModel } from "./llama.ts";

/** One layer's key and value cache, (batch, capacity, kvHeads·headDim) each. */
export interface KvCache {
  k: Tensor;
  v: Tensor;
}

/** Allocates every layer's cache for `capacity` positions per sequence. */
export function allocateKvCaches(
  model: LlamaModel,
  batch: number,
  capacity: number,
  owned: Tensor[],
): KvCache[] {
  const c = model.config;
  const t = ownedAllocator(model.gpu, owned);
  const kvWidth = c.numKeyValueHeads * c.headDim;
  return Array.from({ length: c.numHiddenLayers }, (_, l) => ({
    k: t(`cache.${l}.k`, [batch, capacity, kvWidth]),
    v: t(`cache.${l}.v`, [batch, capacity, kvWidth]),
  }));
}

/** Activations of one step shape; `head` only where the step computes logits. */
export interface StepActivations {
  embeddings: Tensor;
  layers: LayerActivations[];
  scratch: ForwardScratch;
  head?: { logits: Tensor; nf: Tensor; rstdf: Tensor };
}

/** Allocates a step's activations over `caches`, with the head's buffers when `withHead`. */
export function allocateStep(
  model: LlamaModel,
  shape: ForwardShape,
  caches: readonly KvCache[],
  owned: Tensor[],
  withHead: boolean,
): StepActivations {
  const c = model.config;
  const rows = shape.batch * shape.queryLen;
  const t = ownedAllocator(model.gpu, owned);
  const embeddings = t("embeddings", [rows, c.hiddenSize]);
  const layers: LayerActivations[] = [];
  let x = embeddings;
  for (let l = 0; l < c.numHiddenLayers; l++) {
    layers.push(allocateLayer(model, l, shape, x, owned, caches[l]));
    x = layers[l]!.out;
  }
  const head = withHead
    ? {
      logits: t("logits", [rows, c.vocabSize]),
      nf: t("norm", [rows, c.hiddenSize]),
      rstdf: t("rstd", [rows]),
    }
    : undefined;
  return { embeddings, layers, scratch: allocateScratch(model, rows, owned, true), ...head ? { head } : {} };
}

/**
 * The step's dispatches: embeds `ids` (batch·queryLen), runs every layer writing its keys and values into
 * `caches` at `shape.positionOffset`, then, where the step has a head, the final norm and LM head into
 * `acts.head.logits`.
 */
export async function cachedStepDispatches(
  model: LlamaModel,
  shape: ForwardShape,
  acts: StepActivations,
  ids: Tensor,
  caches: readonly KvCache[],
): Promise<Dispatch[]> {
  const gpu = model.gpu;
  const c = model.config;
  const rows = shape.batch * shape.queryLen;
  const out = await embedForward(model, acts.embeddings, ids, rows);
  for (let l = 0; l < c.numHiddenLayers; l++) {
    const write = (key: Tensor, value: Tensor) => writeKeysValues(model, shape, caches[l]!, key, value);
    out.push(...await layerForward(model, l, acts.layers[l]!, acts.scratch, shape, false, write));
  }
  if (acts.head) {
    out.push(
      ...await headForward(gpu, model, {
        ...acts.head,
        x: acts.layers.at(-1)?.out ?? acts.embeddings,
        rows,
        training: false,
      }),
    );
  }
  return out;
}

async function writeKeysValues(
  model: LlamaModel,
  shape: ForwardShape,
  cache: KvCache,
  key: Tensor,
  value: Tensor,
): Promise<Dispatch[]> {
  const c = model.config;
  const common = {
    batch: shape.batch,
    newLen: shape.queryLen,
    width: c.numKeyValueHeads * c.headDim,
    capacity: shape.keyCapacity,
    offset: shape.positionOffset,
  };
  return [
    ...await kvCacheWrite(model.gpu, { cache: cache.k, src: key, ...common }),
    ...await kvCacheWrite(model.gpu, { cache: cache.v, src: value, ...common }),
  ];
}

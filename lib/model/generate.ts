/**
 * Batched greedy generation with a KV cache. The prompt is run once (prefill), then each new token is one
 * decode step of a single position; the argmax of each step is written on the GPU into the next step's input
 * ids, so the whole generation is one command buffer and one read-back. Plans are built once per
 * (batch, prompt length, new tokens) and reused.
 *
 * All prompts of one call have the same length (group prompts by length; no padding or masks).
 *
 * @module
 */

import { type Dispatch, runDispatches } from "../gpu/kernel.ts";
import { collectScratch, ownedAllocator, readTensorU32, type Tensor, writeTensor } from "../gpu/tensor.ts";
import { greedyArgmax, kvCacheWrite } from "../ops/decode.ts";
import { embeddingForward } from "../ops/embedding.ts";
import {
  allocateLayer,
  allocateScratch,
  type ForwardScratch,
  type ForwardShape,
  headForward,
  type LayerActivations,
  layerForward,
} from "./forward.ts";
import type { LlamaModel } from "./llama.ts";

/** Shape of a greedy generator. */
export interface GeneratorShape {
  /** Sequences generated together. */
  batch: number;
  /** Tokens in every prompt. */
  promptLen: number;
  /** Tokens generated after the prompt. */
  maxNewTokens: number;
}

/** A built greedy generator. */
export interface GreedyGenerator {
  /** Its shape. */
  shape: GeneratorShape;
  /** Generates `maxNewTokens` for each prompt (batch·promptLen ids); returns one array per sequence. */
  generate(promptIds: Uint32Array): Promise<Uint32Array[]>;
  /** Frees the caches and activations. */
  destroy(): void;
}

/**
 * Builds the prefill and every decode step of a greedy generation.
 *
 * @throws {RangeError} when prompt plus new tokens exceed `max_position_embeddings`.
 */
export async function buildGreedyGenerator(
  model: LlamaModel,
  shape: GeneratorShape,
): Promise<GreedyGenerator> {
  const c = model.config;
  const { batch, promptLen, maxNewTokens } = shape;
  const capacity = promptLen + maxNewTokens;
  if (capacity > c.maxPositionEmbeddings || promptLen < 1 || maxNewTokens < 1) {
    throw new RangeError(
      `Cannot generate ${maxNewTokens} tokens after ${promptLen}: the total must be within 1..` +
        `${c.maxPositionEmbeddings} (max_position_embeddings)`,
    );
  }
  const owned: Tensor[] = [];
  const t = ownedAllocator(model.gpu, owned);
  const kvWidth = c.numKeyValueHeads * c.headDim;
  const caches = Array.from({ length: c.numHiddenLayers }, (_, l) => ({
    k: t(`cache.${l}.k`, [batch, capacity, kvWidth]),
    v: t(`cache.${l}.v`, [batch, capacity, kvWidth]),
  }));
  const promptIds = t("prompt_ids", [batch * promptLen]);
  const next = t("next_ids", [batch]);
  const generated = t("generated", [batch, maxNewTokens]);
  const prefillShape = { batch, queryLen: promptLen, positionOffset: 0, keyCapacity: capacity };
  const prefill = allocateStep(model, prefillShape, caches, owned);
  const io = { caches, next, generated };
  const decode = allocateStep(model, { ...prefillShape, queryLen: 1 }, caches, owned);
  // The ops' scratch (RoPE tables) is owned by the generator too.
  const dispatches = await collectScratch(model.gpu, owned, async () => {
    const all = await stepDispatches(model, prefillShape, prefill, { ...io, ids: promptIds, column: 0 });
    for (let i = 1; i < maxNewTokens; i++) {
      const stepShape = { batch, queryLen: 1, positionOffset: promptLen + i - 1, keyCapacity: capacity };
      all.push(...await stepDispatches(model, stepShape, decode, { ...io, ids: next, column: i }));
    }
    return all;
  });
  return {
    shape,
    async generate(ids) {
      if (ids.length !== batch * promptLen) {
        throw new RangeError(`Cannot generate from ${ids.length} prompt ids: expected ${batch}×${promptLen}`);
      }
      writeTensor(promptIds, new Uint32Array(ids));
      await runDispatches(model.gpu, dispatches);
      const all = await readTensorU32(generated);
      return Array.from({ length: batch }, (_, b) => all.slice(b * maxNewTokens, (b + 1) * maxNewTokens));
    },
    destroy() {
      for (const tensor of owned) tensor.destroy();
    },
  };
}

/** Activations of one step shape, reused by every decode step of that shape. */
interface StepActivations {
  embeddings: Tensor;
  layers: LayerActivations[];
  scratch: ForwardScratch;
  head: { logits: Tensor; nf: Tensor; rstdf: Tensor };
}

function allocateStep(
  model: LlamaModel,
  shape: ForwardShape,
  caches: { k: Tensor; v: Tensor }[],
  owned: Tensor[],
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
  return {
    embeddings,
    layers,
    scratch: allocateScratch(model, rows, owned, true),
    head: {
      logits: t("logits", [rows, c.vocabSize]),
      nf: t("norm", [rows, c.hiddenSize]),
      rstdf: t("rstd", [rows]),
    },
  };
}

interface StepIo {
  ids: Tensor;
  caches: { k: Tensor; v: Tensor }[];
  next: Tensor;
  generated: Tensor;
  column: number;
}

/** One forward over `shape.queryLen` new tokens per sequence, writing the cache, then the argmax. */
async function stepDispatches(
  model: LlamaModel,
  shape: ForwardShape,
  acts: StepActivations,
  io: StepIo,
): Promise<Dispatch[]> {
  const gpu = model.gpu;
  const c = model.config;
  const rows = shape.batch * shape.queryLen;
  const out: Dispatch[] = [
    ...await embeddingForward(gpu, {
      out: acts.embeddings,
      ids: io.ids,
      table: model.weight("model.embed_tokens.weight"),
      tokens: rows,
      dim: c.hiddenSize,
      vocab: c.vocabSize,
    }),
  ];
  for (let l = 0; l < c.numHiddenLayers; l++) {
    const write = (key: Tensor, value: Tensor) => writeKeysValues(model, shape, io.caches[l]!, key, value);
    out.push(...await layerForward(model, l, acts.layers[l]!, acts.scratch, shape, false, write));
  }
  out.push(
    ...await headForward(gpu, model, {
      ...acts.head,
      x: acts.layers.at(-1)?.out ?? acts.embeddings,
      rows,
      training: false,
    }),
    ...await greedyArgmax(gpu, {
      next: io.next,
      generated: io.generated,
      logits: acts.head.logits,
      batch: shape.batch,
      queryLen: shape.queryLen,
      vocab: c.vocabSize,
      genStride: io.generated.shape[1]!,
      column: io.column,
    }),
  );
  return out;
}

async function writeKeysValues(
  model: LlamaModel,
  shape: ForwardShape,
  cache: { k: Tensor; v: Tensor },
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

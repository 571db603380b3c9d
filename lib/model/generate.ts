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
import { greedyArgmax } from "../ops/decode.ts";
import {
  allocateKvCaches,
  allocateStep,
  cachedStepDispatches,
  type KvCache,
  type StepActivations,
} from "./cached_step.ts";
import type { ForwardShape } from "./forward.ts";
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
  const caches = allocateKvCaches(model, batch, capacity, owned);
  const promptIds = t("prompt_ids", [batch * promptLen]);
  const next = t("next_ids", [batch]);
  const generated = t("generated", [batch, maxNewTokens]);
  const prefillShape = { batch, queryLen: promptLen, positionOffset: 0, keyCapacity: capacity };
  const prefill = allocateStep(model, prefillShape, caches, owned, true);
  const io = { caches, next, generated };
  const decode = allocateStep(model, { ...prefillShape, queryLen: 1 }, caches, owned, true);
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

interface StepIo {
  ids: Tensor;
  caches: KvCache[];
  next: Tensor;
  generated: Tensor;
  column: number;
}

/** One cached forward over `shape.queryLen` new tokens per sequence, then the argmax of its last position. */
async function stepDispatches(
  model: LlamaModel,
  shape: ForwardShape,
  acts: StepActivations,
  io: StepIo,
): Promise<Dispatch[]> {
  return [
    ...await cachedStepDispatches(model, shape, acts, io.ids, io.caches),
    ...await greedyArgmax(model.gpu, {
      next: io.next,
      generated: io.generated,
      logits: acts.head!.logits,
      batch: shape.batch,
      queryLen: shape.queryLen,
      vocab: model.config.vocabSize,
      genStride: io.generated.shape[1]!,
      column: io.column,
    }),
  ];
}

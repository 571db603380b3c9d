/**
 * Teacher-forced logits of several continuations after one shared context, with a KV cache: the context runs
 * once (a prefill that writes the cache and computes no logits), then each continuation is one step of
 * `continuationLen` positions that attends to the cached context and to its own earlier positions. Each
 * continuation overwrites the previous one's cache positions, which no later position of it reads before
 * writing. A causal model gives the same logits as running context and continuation as one sequence, for a
 * fraction of the cost when the context is long and the continuations short (a cloze's four words).
 *
 * All contexts of one call have the same length (group them by length; no padding or masks). A continuation
 * shorter than `continuationLen` may be padded at its end: padding changes no earlier position's logits.
 *
 * @module
 */

import { runDispatches } from "../gpu/kernel.ts";
import { collectScratch, ownedAllocator, readTensor, type Tensor, writeTensor } from "../gpu/tensor.ts";
import { allocateKvCaches, allocateStep, cachedStepDispatches } from "./cached_step.ts";
import type { LlamaModel } from "./llama.ts";

/** Shape of a continuation scorer. */
export interface ContinuationShape {
  /** Contexts scored together. */
  batch: number;
  /** Tokens in every context. */
  contextLen: number;
  /** Tokens in every continuation. */
  continuationLen: number;
}

/** A built continuation scorer. */
export interface ContinuationScorer {
  /** Its shape. */
  shape: ContinuationShape;
  /**
   * Runs the contexts (batch·contextLen ids), then each continuation (batch·continuationLen ids) after
   * them; returns each continuation's logits, (batch, continuationLen, vocab): position i predicts the token
   * after the continuation's i-th.
   */
  logits(contextIds: Uint32Array, continuations: readonly Uint32Array[]): Promise<Float32Array[]>;
  /** Frees the cache and activations. */
  destroy(): void;
}

/**
 * Builds the prefill of the contexts and the step of a continuation.
 *
 * @throws {RangeError} when a length is below 1 or context plus continuation exceed `max_position_embeddings`.
 */
export async function buildContinuationScorer(
  model: LlamaModel,
  shape: ContinuationShape,
): Promise<ContinuationScorer> {
  const { batch, contextLen, continuationLen } = shape;
  const capacity = contextLen + continuationLen;
  const max = model.config.maxPositionEmbeddings;
  if (contextLen < 1 || continuationLen < 1 || capacity > max) {
    throw new RangeError(
      `Cannot score ${continuationLen}-token continuations after ${contextLen}-token contexts: both must be ` +
        `at least 1 and their total within ${max} (max_position_embeddings)`,
    );
  }
  const owned: Tensor[] = [];
  const t = ownedAllocator(model.gpu, owned);
  const caches = allocateKvCaches(model, batch, capacity, owned);
  const contextIds = t("context_ids", [batch * contextLen]);
  const continuationIds = t("continuation_ids", [batch * continuationLen]);
  const prefillShape = { batch, queryLen: contextLen, positionOffset: 0, keyCapacity: capacity };
  const stepShape = { batch, queryLen: continuationLen, positionOffset: contextLen, keyCapacity: capacity };
  const prefill = allocateStep(model, prefillShape, caches, owned, false);
  const step = allocateStep(model, stepShape, caches, owned, true);
  // The ops' scratch (RoPE tables) is owned by the scorer too.
  const [prefillDispatches, stepDispatches] = await collectScratch(model.gpu, owned, async () => [
    await cachedStepDispatches(model, prefillShape, prefill, contextIds, caches),
    await cachedStepDispatches(model, stepShape, step, continuationIds, caches),
  ]);
  const check = (ids: Uint32Array, len: number, what: string) => {
    if (ids.length !== batch * len) {
      throw new RangeError(`Cannot score ${ids.length} ${what} ids: expected ${batch}×${len}`);
    }
  };
  return {
    shape,
    async logits(context, continuations) {
      check(context, contextLen, "context");
      continuations.forEach((ids) => check(ids, continuationLen, "continuation"));
      writeTensor(contextIds, new Uint32Array(context));
      await runDispatches(model.gpu, prefillDispatches);
      const out: Float32Array[] = [];
      for (const ids of continuations) {
        writeTensor(continuationIds, new Uint32Array(ids));
        await runDispatches(model.gpu, stepDispatches);
        out.push(await readTensor(step.head!.logits));
      }
      return out;
    },
    destroy() {
      for (const tensor of owned) tensor.destroy();
    },
  };
}

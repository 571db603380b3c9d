/**
 * Validation loss, perplexity and bits per byte of a model over a token stream, on the GPU: every window
 * is a forward pass of a forward-only plan; each batch reads back only its [mean loss, count].
 *
 * @module
 */

import { evalBatches } from "../data/batches.ts";
import { EvalTotals } from "../data/metrics.ts";
import type { Tokenizer } from "../data/tokenizer.ts";
import { runDispatches } from "../gpu/kernel.ts";
import { readTensor } from "../gpu/tensor.ts";
import type { LlamaModel } from "../model/llama.ts";
import { buildTrainPlan, type TrainPlan } from "../model/train_plan.ts";

/** Result of {@link evaluate}. */
export interface EvalResult {
  /** Mean NLL per predicted token (nats). */
  loss: number;
  /** Perplexity, `exp(loss)`. */
  perplexity: number;
  /** NLL in bits per UTF-8 byte of the predicted text (compares tokenizers). */
  bitsPerByte: number;
  /** Number of tokens predicted: the count the loss averages over. */
  tokens: number;
}

/**
 * Evaluates on at most `maxBatches` batches of non-overlapping windows of `stream`.
 * Builds a forward-only plan unless one of the right shape is passed.
 */
export async function evaluate(
  model: LlamaModel,
  stream: Uint32Array,
  tokenizer: Tokenizer,
  options: { batch: number; seqLen: number; maxBatches?: number; plan?: TrainPlan },
): Promise<EvalResult> {
  const plan = options.plan ?? await buildTrainPlan(model, { batch: options.batch, seqLen: options.seqLen });
  const totals = new EvalTotals();
  let batches = 0;
  try {
    for (const b of evalBatches(stream, tokenizer, { batchSize: options.batch, seqLen: options.seqLen })) {
      if (options.maxBatches !== undefined && batches >= options.maxBatches) break;
      plan.writeBatch(b.inputIds, b.labels);
      await runDispatches(model.gpu, plan.forward);
      const [mean, count] = await readTensor(plan.stats);
      let bytes = 0;
      for (const n of b.predictedBytes) bytes += n;
      totals.add(mean! * count!, count!, bytes);
      batches++;
    }
  } finally {
    if (!options.plan) plan.destroy();
  }
  return {
    loss: totals.meanNll(),
    perplexity: totals.perplexity(),
    bitsPerByte: totals.bitsPerByte(),
    tokens: totals.tokens,
  };
}

/**
 * Using a loaded model without training it: the logits of a batch of token ids, and greedy text generation
 * from a prompt. Both build their GPU plans, run them once and free them; for many calls of one shape, build
 * a generator with `buildGreedyGenerator` and reuse it.
 *
 * @example Generate from a saved model
 * ```ts
 * import { generateText, getTokenizer, LlamaModel, loadCheckpoint, requestGpu } from "../../mod.ts";
 *
 * const gpu = await requestGpu();
 * const { config, weights } = await loadCheckpoint("reports/cache/reference");
 * const model = LlamaModel.create(gpu, config, weights, { trainBase: false });
 * console.log(await generateText(model, getTokenizer("byte"), "The president", { maxNewTokens: 40 }));
 * model.destroy();
 * ```
 *
 * @module
 */

import { runDispatches } from "../gpu/kernel.ts";
import { readTensor } from "../gpu/tensor.ts";
import type { Tokenizer } from "../data/tokenizer.ts";
import { buildGreedyGenerator } from "./generate.ts";
import type { LlamaModel } from "./llama.ts";
import { buildTrainPlan } from "./train_plan.ts";

/** Shape of a batch of token ids: `batch` sequences of `seqLen` tokens each. */
export interface BatchShape {
  /** Sequences. */
  batch: number;
  /** Tokens in every sequence. */
  seqLen: number;
}

/**
 * The logits of `inputIds` (`batch·seqLen` ids, sequence after sequence): a `(batch·seqLen, vocabSize)`
 * row-major array, row `b·seqLen + t` being the next-token scores after token `t` of sequence `b`.
 *
 * @throws {RangeError} when `inputIds` does not hold `batch·seqLen` ids, or `seqLen` exceeds
 * `max_position_embeddings`.
 * @example
 * ```ts
 * const logits = await computeLogits(model, new Uint32Array([2, 72, 105]), { batch: 1, seqLen: 3 });
 * ```
 */
export async function computeLogits(
  model: LlamaModel,
  inputIds: Uint32Array,
  shape: BatchShape,
): Promise<Float32Array> {
  if (inputIds.length !== shape.batch * shape.seqLen) {
    throw new RangeError(
      `Cannot compute logits of ${inputIds.length} ids: expected batch × seqLen = ${shape.batch}×${shape.seqLen}`,
    );
  }
  const plan = await buildTrainPlan(model, shape);
  try {
    plan.writeBatch(inputIds, Int32Array.from(inputIds)); // the labels only feed the loss, unused here
    await runDispatches(model.gpu, plan.forward);
    return await readTensor(plan.logits);
  } finally {
    plan.destroy();
  }
}

/** Options of {@link generateText}. */
export interface GenerateTextOptions {
  /** Tokens to generate at most (generation stops earlier at the tokenizer's EOS). */
  maxNewTokens: number;
}

/**
 * Greedy generation from `prompt`: BOS, the prompt's tokens, then up to `maxNewTokens` argmax tokens, cut
 * at the first EOS; returns the generated text (without the prompt).
 *
 * @throws {RangeError} when the prompt plus `maxNewTokens` exceed `max_position_embeddings`, or the tokenizer
 * has more ids than the model's vocabulary.
 */
export async function generateText(
  model: LlamaModel,
  tokenizer: Tokenizer,
  prompt: string,
  options: GenerateTextOptions,
): Promise<string> {
  if (tokenizer.vocabSize > model.config.vocabSize) {
    throw new RangeError(
      `Cannot generate with tokenizer "${tokenizer.name}": its ${tokenizer.vocabSize} ids exceed the model's ` +
        `vocabulary of ${model.config.vocabSize}; use the tokenizer the model was trained with`,
    );
  }
  const ids = Uint32Array.from([tokenizer.bos, ...tokenizer.encode(prompt)]);
  const generator = await buildGreedyGenerator(model, {
    batch: 1,
    promptLen: ids.length,
    maxNewTokens: options.maxNewTokens,
  });
  try {
    const [generated] = await generator.generate(ids);
    const end = generated!.indexOf(tokenizer.eos);
    return tokenizer.decode(end < 0 ? generated! : generated!.subarray(0, end));
  } finally {
    generator.destroy();
  }
}

/**
 * Using a loaded model without training it: the logits of a batch of token ids, and greedy text generation
 * from a prompt. Both build their GPU plans, run them once and free them; for many calls of one shape, build
 * a generator with `buildGreedyGenerator` and reuse it.
 *
 * @example Generate from a saved model (here a freshly initialized tiny one, saved to a temp folder)
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateText, getTokenizer, initLlamaWeights, LlamaModel, loadCheckpoint } from "../../mod.ts";
 * import { parseLlamaConfig, requestGpu, saveCheckpoint } from "../../mod.ts";
 *
 * const gpu = await requestGpu();
 * const tokenizer = getTokenizer("byte");
 * const json = JSON.parse(await Deno.readTextFile("testdata/golden/llama-tiny/config.json"));
 * const tiny = parseLlamaConfig({ ...json, vocab_size: tokenizer.vocabSize }, "the tiny config");
 * const dir = await Deno.makeTempDir();
 * await saveCheckpoint(dir, tiny, initLlamaWeights(tiny, 0), tokenizer, () => {});
 * const { config, weights } = await loadCheckpoint(dir, () => {});
 * const model = LlamaModel.create(gpu, config, weights, { trainBase: false });
 * const text = await generateText(model, tokenizer, "The president", { maxNewTokens: 8 });
 * assert.ok(text.length <= 8); // one byte per token, cut at the first EOS
 * assert.equal(await generateText(model, tokenizer, "The president", { maxNewTokens: 8 }), text); // greedy
 * model.destroy();
 * await Deno.remove(dir, { recursive: true });
 * gpu.device.destroy();
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
  /** Number of sequences in the batch. */
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
 * @example The same three tokens as two sequences give the same two blocks of rows
 * ```ts
 * import assert from "node:assert/strict";
 * import { computeLogits, LlamaModel, loadCheckpoint, requestGpu } from "../../mod.ts";
 *
 * const gpu = await requestGpu();
 * const { config, weights } = await loadCheckpoint("testdata/golden/llama-tiny", () => {});
 * const model = LlamaModel.create(gpu, config, weights, { trainBase: false });
 * const ids = new Uint32Array([2, 7, 11, 2, 7, 11]);
 * const logits = await computeLogits(model, ids, { batch: 2, seqLen: 3 });
 * assert.equal(logits.length, 6 * config.vocabSize);
 * const half = 3 * config.vocabSize;
 * assert.deepEqual(logits.subarray(half), logits.subarray(0, half));
 * model.destroy();
 * gpu.device.destroy();
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

/**
 * Scoring UUID memorization. Character-level accuracy (paper Table 1): greedy generation from `key:` (BOS +
 * key + ':'), and the fraction of the value's 36 characters reproduced at their position; plus teacher-forced
 * accuracy: the fraction of value tokens that are the argmax of the logits when the true prefix is given, and
 * the fraction of pairs recalled exactly. The paper does not define its accuracy precisely (spec MoRA §7);
 * this is its natural reading.
 *
 * @module
 */

import type { Tokenizer } from "../data/tokenizer.ts";
import { runDispatches } from "../gpu/kernel.ts";
import { createTensor, readTensorU32 } from "../gpu/tensor.ts";
import { buildGreedyGenerator, type GreedyGenerator } from "../model/generate.ts";
import type { LlamaModel } from "../model/llama.ts";
import { buildTrainPlan, type TrainPlan } from "../model/train_plan.ts";
import { greedyArgmax } from "../ops/decode.ts";
import type { UuidExample, UuidPair } from "./data.ts";

/** Accuracies of one evaluation, each in [0, 1]. */
export interface UuidScore {
  /** Mean over pairs of the fraction of value characters generated correctly at their position. */
  charAccuracy: number;
  /** Fraction of pairs whose generated value is exactly right. */
  exactMatch: number;
  /** Fraction of value tokens predicted (argmax) correctly given the true prefix. */
  teacherForcedAccuracy: number;
}

/** Fraction of `expected`'s characters that `generated` has at the same position. */
export function charAccuracy(generated: string, expected: string): number {
  let same = 0;
  for (let i = 0; i < expected.length; i++) if (generated[i] === expected[i]) same++;
  return same / expected.length;
}

/** Splits `items` into chunks of exactly `size`, padding the last one with its first item. */
function fullChunks<T>(items: readonly T[], size: number): { chunk: T[]; real: number }[] {
  const out: { chunk: T[]; real: number }[] = [];
  for (let i = 0; i < items.length; i += size) {
    const chunk = items.slice(i, i + size);
    const real = chunk.length;
    while (chunk.length < size) chunk.push(chunk[0]!);
    out.push({ chunk, real });
  }
  return out;
}

/** Scores a model on pairs; builds its plans once and reuses them for every evaluation. */
export class UuidScorer {
  readonly #generators = new Map<string, GreedyGenerator>();
  #forward?: TrainPlan;

  /**
   * @param examples the tokenized pairs, same order as `pairs`
   * @param batch sequences per generation and per teacher-forced forward pass
   */
  constructor(
    readonly model: LlamaModel,
    readonly tokenizer: Tokenizer,
    readonly pairs: readonly UuidPair[],
    readonly examples: readonly UuidExample[],
    readonly batch: number,
  ) {}

  /** Generation and teacher-forced accuracy over every pair. */
  async score(): Promise<UuidScore> {
    const generated = await this.#generateAll();
    let chars = 0;
    let exact = 0;
    this.pairs.forEach((pair, i) => {
      const text = generated[i]!;
      chars += charAccuracy(text, pair.value);
      if (text.startsWith(pair.value)) exact++;
    });
    return {
      charAccuracy: chars / this.pairs.length,
      exactMatch: exact / this.pairs.length,
      teacherForcedAccuracy: await this.#teacherForced(),
    };
  }

  async #generateAll(): Promise<string[]> {
    const maxNew = Math.max(...this.examples.map((e) => e.ids.length - e.promptIds.length));
    const byLength = new Map<number, number[]>();
    this.examples.forEach((e, i) =>
      byLength.set(e.promptIds.length, [...byLength.get(e.promptIds.length) ?? [], i])
    );
    const out: string[] = new Array(this.examples.length);
    for (const [promptLen, indices] of byLength) {
      const generator = await this.#generator(promptLen, maxNew);
      for (const { chunk, real } of fullChunks(indices, this.batch)) {
        const prompts = Uint32Array.from(chunk.flatMap((i) => this.examples[i]!.promptIds));
        const tokens = await generator.generate(prompts);
        for (let j = 0; j < real; j++) out[chunk[j]!] = this.tokenizer.decode(tokens[j]!);
      }
    }
    return out;
  }

  async #generator(promptLen: number, maxNewTokens: number): Promise<GreedyGenerator> {
    const key = `${promptLen}:${maxNewTokens}`;
    let g = this.#generators.get(key);
    if (!g) {
      g = await buildGreedyGenerator(this.model, { batch: this.batch, promptLen, maxNewTokens });
      this.#generators.set(key, g);
    }
    return g;
  }

  /** Argmax of every position on the GPU (only ids come back), compared with the next true token. */
  async #teacherForced(): Promise<number> {
    const seqLen = Math.max(...this.examples.map((e) => e.ids.length));
    const rows = this.batch * seqLen;
    const vocab = this.model.config.vocabSize;
    this.#forward ??= await buildTrainPlan(this.model, { batch: this.batch, seqLen });
    const predicted = createTensor(this.model.gpu, "uuid.predicted", [rows]);
    const unused = createTensor(this.model.gpu, "uuid.predicted_copy", [rows]);
    const argmax = await greedyArgmax(this.model.gpu, {
      next: predicted,
      generated: unused,
      logits: this.#forward.logits,
      batch: rows,
      queryLen: 1,
      vocab,
      genStride: 1,
      column: 0,
    });
    let correct = 0;
    let total = 0;
    for (const { chunk, real } of fullChunks(this.examples, this.batch)) {
      const ids = new Uint32Array(rows).fill(this.tokenizer.eos);
      chunk.forEach((e, b) => ids.set(e.ids, b * seqLen));
      this.#forward.writeBatch(ids, Int32Array.from(ids));
      await runDispatches(this.model.gpu, [...this.#forward.forward, ...argmax]);
      const guess = await readTensorU32(predicted);
      for (let b = 0; b < real; b++) {
        const e = chunk[b]!;
        for (let t = e.promptIds.length; t < e.ids.length; t++) {
          if (guess[b * seqLen + t - 1] === e.ids[t]) correct++;
          total++;
        }
      }
    }
    predicted.destroy();
    unused.destroy();
    return correct / total;
  }

  /** Frees the plans. */
  destroy(): void {
    for (const g of this.#generators.values()) g.destroy();
    this.#forward?.destroy();
  }
}

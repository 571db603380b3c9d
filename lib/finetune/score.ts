/**
 * Scoring the fine-tuning tasks, one scorer for the analogs and the real datasets:
 *
 * - multiple choice (MMLU, and the domains' cloze): each option's summed log-likelihood as a continuation of
 *   the context; the highest wins (ties go to the first), as the MMLU harness scores the answer letters.
 *   Options that differ only in their last token share a pass; others (a cloze's words) continue from the
 *   context's KV cache;
 * - math: exact match of the final answer (`lib/finetune/format.ts` `finalAnswer`) of a greedy generation,
 *   and the perplexity of the held-out worked solutions under teacher forcing (tokenized as in training);
 * - domain perplexity: `lib/train/evaluate.ts` on the held-out documents' token stream.
 *
 * Sequences are grouped into lengths rounded up to {@link LENGTH_BUCKET} tokens, so that few plans are built.
 * A generation prompt shorter than its bucket is left-padded with newline tokens before its BOS (text before a
 * BOS is what the base saw between pretraining documents), since the generator has no attention mask.
 *
 * @module
 */

import { evenWindows, tokenStream } from "../data/batches.ts";
import type { Tokenizer } from "../data/tokenizer.ts";
import { runDispatches } from "../gpu/kernel.ts";
import { readTensor } from "../gpu/tensor.ts";
import {
  buildContinuationScorer,
  type ContinuationScorer,
  type ContinuationShape,
} from "../model/continuation.ts";
import { buildGreedyGenerator, type GreedyGenerator } from "../model/generate.ts";
import type { LlamaModel } from "../model/llama.ts";
import { buildTrainPlan, type TrainPlan } from "../model/train_plan.ts";
import { IGNORE_INDEX } from "../ops/cross_entropy.ts";
import { evaluate } from "../train/evaluate.ts";
import { tokenizeExample } from "./batches.ts";
import { finalAnswer } from "./format.ts";
import type { ChoiceItem, DomainDocument, MathItem } from "./tasks.ts";

/** Sequence lengths are rounded up to a multiple of this. */
export const LENGTH_BUCKET = 32;

/** `n` rounded up to the bucket. */
export function bucket(n: number): number {
  return Math.ceil(n / LENGTH_BUCKET) * LENGTH_BUCKET;
}

/** log softmax(row)[target], in float64 with a max shift. */
export function logProb(logits: Float32Array, offset: number, vocab: number, target: number): number {
  let max = -Infinity;
  for (let v = 0; v < vocab; v++) max = Math.max(max, logits[offset + v]!);
  let sum = 0;
  for (let v = 0; v < vocab; v++) sum += Math.exp(logits[offset + v]! - max);
  return logits[offset + target]! - max - Math.log(sum);
}

/**
 * A row's summed log-likelihood of its option tokens from logits whose row `at` holds position `row.from`
 * (the next rows the positions after it).
 */
function optionLogLikelihood(logits: Float32Array, vocab: number, row: Row, at: number): number {
  let sum = 0;
  for (let t = row.from; t + 1 < row.ids.length; t++) {
    sum += logProb(logits, (at + t - row.from) * vocab, vocab, row.ids[t + 1]!);
  }
  return sum;
}

/** The index of the largest value (the first of equals). */
export function argmax(values: readonly number[]): number {
  let best = 0;
  values.forEach((v, i) => {
    if (v > values[best]!) best = i;
  });
  return best;
}

/** Fraction of generations whose final answer is exactly the expected one. */
export function exactMatch(generated: readonly string[], expected: readonly string[]): number {
  let right = 0;
  generated.forEach((text, i) => {
    if (finalAnswer(text) === expected[i]) right++;
  });
  return right / generated.length;
}

/** One scored sequence: ids, and the positions whose next token is an option token. */
export interface Row {
  ids: number[];
  /** Positions t whose logits score ids[t + 1] (the option's tokens). */
  from: number;
}

/** The token rows of an item's options: BOS, the context, then the option. */
export function choiceRows(item: ChoiceItem, tokenizer: Tokenizer): Row[] {
  const context = [tokenizer.bos, ...tokenizer.encode(item.context)];
  return item.options.map((o) => ({ ids: [...context, ...tokenizer.encode(o)], from: context.length - 1 }));
}

/** The row of a problem's worked solution after its prompt, tokenized as a training example (EOS last). */
export function solutionRow(item: MathItem & { solution: string }, tokenizer: Tokenizer): Row {
  const { ids, completionStart } = tokenizeExample(
    { prompt: item.prompt, completion: item.solution },
    tokenizer,
  );
  return { ids, from: completionStart - 1 };
}

/** The prompt ids of a problem: BOS and the prompt. */
export function promptIds(item: MathItem, tokenizer: Tokenizer): number[] {
  return [tokenizer.bos, ...tokenizer.encode(item.prompt)];
}

/**
 * The token sequences a set of rows needs run, and which one scores each row. A row's option tokens are scored
 * by the logits up to its last token but one, which a causal model computes without seeing what follows, so
 * a pass is the row without its last token, and rows that differ only in their last token share it (MMLU's
 * four answer letters cost one pass, not four).
 */
export function forwardRows(rows: readonly Row[]): { passes: number[][]; passOf: number[] } {
  const passes: number[][] = [];
  const byIds = new Map<string, number>();
  const passOf = rows.map((row) => {
    const ids = row.ids.slice(0, -1), key = ids.join(",");
    if (!byIds.has(key)) byIds.set(key, passes.push(ids) - 1);
    return byIds.get(key)!;
  });
  return { passes, passOf };
}

/** Scores one model; builds its plans once per length and frees them with {@link TaskScorer.destroy}. */
export class TaskScorer {
  readonly #plans = new Map<number, TrainPlan>();
  readonly #generators = new Map<string, GreedyGenerator>();
  readonly #continuations = new Map<string, ContinuationScorer>();

  constructor(readonly model: LlamaModel, readonly tokenizer: Tokenizer, readonly batch: number) {}

  async #plan(seqLen: number): Promise<TrainPlan> {
    let plan = this.#plans.get(seqLen);
    if (!plan) {
      plan = await buildTrainPlan(this.model, { batch: this.batch, seqLen });
      this.#plans.set(seqLen, plan);
    }
    return plan;
  }

  /** Summed log-likelihood of each row's option tokens; rows of one context share a pass ({@link forwardRows}). */
  async logLikelihoods(rows: readonly Row[]): Promise<number[]> {
    const { passes, passOf } = forwardRows(rows);
    const out = new Array<number>(rows.length);
    const byLength = new Map<number, number[]>();
    passes.forEach((ids, i) => {
      const n = Math.min(bucket(ids.length), this.model.config.maxPositionEmbeddings);
      byLength.set(n, [...byLength.get(n) ?? [], i]);
    });
    const rowsOf = passes.map(() => [] as number[]);
    passOf.forEach((p, r) => rowsOf[p]!.push(r));
    const vocab = this.model.config.vocabSize;
    for (const [seqLen, indices] of byLength) {
      const plan = await this.#plan(seqLen);
      for (let at = 0; at < indices.length; at += this.batch) {
        const chunk = indices.slice(at, at + this.batch);
        const ids = new Uint32Array(this.batch * seqLen).fill(this.tokenizer.eos);
        chunk.forEach((p, b) => ids.set(passes[p]!, b * seqLen));
        plan.writeBatch(ids, new Int32Array(ids.length).fill(IGNORE_INDEX));
        await runDispatches(this.model.gpu, plan.forward);
        const logits = await readTensor(plan.logits);
        chunk.forEach((p, b) => {
          for (const r of rowsOf[p]!) {
            out[r] = optionLogLikelihood(logits, vocab, rows[r]!, b * seqLen + rows[r]!.from);
          }
        });
      }
    }
    return out;
  }

  /** Accuracy on multiple-choice items: the option of highest log-likelihood against the answer. */
  async choiceAccuracy(items: readonly ChoiceItem[]): Promise<number> {
    const ll = await this.optionLogLikelihoods(items);
    return items.filter((item, i) => argmax(ll[i]!) === item.answer).length / items.length;
  }

  /**
   * Each item's options' summed log-likelihoods after its context ({@link choiceRows}). Items whose options
   * differ only in their last token (MMLU's letters) cost one pass ({@link forwardRows}); the others run
   * their context once and continue each option from its KV cache ({@link buildContinuationScorer}), a
   * quarter of the tokens for four options.
   */
  async optionLogLikelihoods(items: readonly ChoiceItem[]): Promise<number[][]> {
    const rowsOf = items.map((item) => choiceRows(item, this.tokenizer));
    const continued = rowsOf.map((rows) => rows[0]!.from >= 1 && forwardRows(rows).passes.length > 1);
    const out = rowsOf.map(() => [] as number[]);
    const passed = items.flatMap((_, i) => continued[i] ? [] : [i]);
    const ll = await this.logLikelihoods(passed.flatMap((i) => rowsOf[i]!));
    let at = 0;
    for (const i of passed) out[i] = ll.slice(at, at += rowsOf[i]!.length);
    const byContext = new Map<number, number[]>();
    rowsOf.forEach((rows, i) => {
      if (continued[i]) byContext.set(rows[0]!.from, [...byContext.get(rows[0]!.from) ?? [], i]);
    });
    for (const [contextLen, group] of byContext) {
      const shape = {
        batch: Math.min(this.batch, group.length),
        contextLen,
        continuationLen: Math.max(
          ...group.flatMap((i) => rowsOf[i]!.map((r) => r.ids.length - 1 - contextLen)),
        ),
      };
      for (let start = 0; start < group.length; start += this.batch) {
        const chunk = group.slice(start, start + this.batch);
        const scored = await this.#continue(shape, chunk.map((i) => rowsOf[i]!));
        chunk.forEach((i, b) => out[i] = scored[b]!);
      }
    }
    return out;
  }

  /**
   * Option log-likelihoods of up to `shape.batch` items whose rows all share one context of
   * `shape.contextLen` tokens (their `from`) and whose options fit `shape.continuationLen`.
   */
  async #continue(shape: ContinuationShape, items: readonly Row[][]): Promise<number[][]> {
    const { batch, contextLen, continuationLen: span } = shape;
    const key = `${batch}:${contextLen}:${span}`;
    let scorer = this.#continuations.get(key);
    if (!scorer) {
      scorer = await buildContinuationScorer(this.model, shape);
      this.#continuations.set(key, scorer);
    }
    const eos = this.tokenizer.eos, vocab = this.model.config.vocabSize;
    const context = new Uint32Array(batch * contextLen).fill(eos);
    items.forEach((rows, b) => context.set(rows[0]!.ids.slice(0, contextLen), b * contextLen));
    // Continuation k of item b: its last context token and option k's tokens but the last, padded at the end.
    const options = Math.max(...items.map((rows) => rows.length));
    const continuations = Array.from({ length: options }, (_, k) => {
      const ids = new Uint32Array(batch * span).fill(eos);
      items.forEach((rows, b) => {
        if (rows[k]) ids.set(rows[k].ids.slice(contextLen, -1), b * span);
      });
      return ids;
    });
    const logits = await scorer.logits(context, continuations);
    return items.map((rows, b) =>
      rows.map((row, k) => optionLogLikelihood(logits[k]!, vocab, row, b * span))
    );
  }

  /** Greedy generations of `maxNewTokens` after each prompt, cut at the first EOS, as text. */
  async generate(items: readonly MathItem[], maxNewTokens: number): Promise<string[]> {
    const pad = this.tokenizer.encode("\n")[0]!;
    const byLength = new Map<number, number[]>();
    items.forEach((item, i) => {
      const n = bucket(promptIds(item, this.tokenizer).length);
      byLength.set(n, [...byLength.get(n) ?? [], i]);
    });
    const out = new Array<string>(items.length);
    for (const [promptLen, indices] of byLength) {
      const key = `${promptLen}:${maxNewTokens}`;
      let generator = this.#generators.get(key);
      if (!generator) {
        generator = await buildGreedyGenerator(this.model, { batch: this.batch, promptLen, maxNewTokens });
        this.#generators.set(key, generator);
      }
      for (let at = 0; at < indices.length; at += this.batch) {
        const chunk = indices.slice(at, at + this.batch);
        const prompts = new Uint32Array(this.batch * promptLen).fill(pad);
        chunk.forEach((i, b) => {
          const ids = promptIds(items[i]!, this.tokenizer);
          prompts.set(ids, b * promptLen + promptLen - ids.length);
        });
        const tokens = await generator.generate(prompts);
        chunk.forEach((i, b) => {
          const ids = [...tokens[b]!];
          const end = ids.indexOf(this.tokenizer.eos);
          out[i] = this.tokenizer.decode(end < 0 ? ids : ids.slice(0, end));
        });
      }
    }
    return out;
  }

  /** Exact-match accuracy of greedy generation on problems. */
  async mathAccuracy(items: readonly MathItem[], maxNewTokens: number): Promise<number> {
    const generated = await this.generate(items, maxNewTokens);
    return exactMatch(generated, items.map((i) => i.answer));
  }

  /**
   * Perplexity of the problems' worked solutions (every solution token and the EOS, after its prompt);
   * undefined when no problem has one.
   */
  async solutionPerplexity(items: readonly MathItem[]): Promise<number | undefined> {
    const rows = items.flatMap((i) =>
      i.solution === undefined ? [] : [solutionRow({ ...i, solution: i.solution }, this.tokenizer)]
    );
    if (rows.length === 0) return undefined;
    const ll = await this.logLikelihoods(rows);
    const tokens = rows.reduce((n, r) => n + r.ids.length - r.from - 1, 0);
    return Math.exp(-ll.reduce((a, b) => a + b, 0) / tokens);
  }

  /**
   * Perplexity of held-out documents on at most `maxBatches` batches of `seqLen`-token windows spread evenly
   * over all of them (not the first documents only: one long licence would otherwise be the whole measure).
   */
  async perplexity(docs: readonly DomainDocument[], seqLen: number, maxBatches: number): Promise<number> {
    const stream = evenWindows(tokenStream(docs, this.tokenizer), seqLen, maxBatches * this.batch);
    const plan = await this.#plan(seqLen);
    const result = await evaluate(this.model, stream, this.tokenizer, {
      batch: this.batch,
      seqLen,
      maxBatches,
      plan,
    });
    return result.perplexity;
  }

  /** Frees the plans. */
  destroy(): void {
    for (const p of this.#plans.values()) p.destroy();
    for (const g of this.#generators.values()) g.destroy();
    for (const c of this.#continuations.values()) c.destroy();
  }
}

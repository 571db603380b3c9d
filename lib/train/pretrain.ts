/**
 * Pretraining a LLaMA from scratch on the general-text corpus (full training of every tensor), as a library
 * function: `deno task train` and the UUID experiment's base model both use it.
 *
 * @module
 */

import { tokenStream, trainBatches } from "../data/batches.ts";
import { loadCorpus, splitCorpus } from "../data/corpus.ts";
import type { Tokenizer } from "../data/tokenizer.ts";
import type { Gpu } from "../gpu/device.ts";
import type { LlamaConfig } from "../model/config.ts";
import { initLlamaWeights } from "../model/init.ts";
import { LlamaModel } from "../model/llama.ts";
import { type EvalResult, evaluate } from "./evaluate.ts";
import type { ScheduleKind } from "./schedule.ts";
import { Trainer } from "./trainer.ts";

/** Options of {@link pretrain}. */
export interface PretrainOptions {
  /** Model shape. */
  config: LlamaConfig;
  /** Starting weights (default: seeded init). */
  weights?: Map<string, Float32Array>;
  /** Tokenizer of the corpus (its vocabulary must fit the config's). */
  tokenizer: Tokenizer;
  /** Corpus sources (default: all). */
  sources?: string[];
  /** Documents added to the training split (the UUID base's unrelated UUID pairs); never validated on. */
  extraTrainDocuments?: readonly { text: string }[];
  /** Optimizer updates. */
  steps: number;
  /** Sequences per update. */
  batch: number;
  /** Tokens per sequence. */
  seqLen: number;
  /** Peak learning rate. */
  lr: number;
  /** Linear warmup updates. */
  warmup: number;
  /** Learning-rate schedule after the warmup. */
  schedule: ScheduleKind;
  /** AdamW weight decay. */
  weightDecay: number;
  /** Seed of the initialization and of the batch order. */
  seed: number;
  /** Read the loss back every this many steps. */
  logEvery: number;
  /** Validation batches at the end. */
  evalBatches: number;
  /** Receives progress lines. */
  log: (line: string) => void;
}

/** Trains a model on the corpus, evaluates it on the validation split, and returns it (on the GPU). */
export async function pretrain(
  gpu: Gpu,
  o: PretrainOptions,
): Promise<{ model: LlamaModel; validation: EvalResult }> {
  if (o.config.vocabSize < o.tokenizer.vocabSize) {
    throw new RangeError(
      `Cannot train a model with vocab ${o.config.vocabSize} on the "${o.tokenizer.name}" tokenizer ` +
        `(${o.tokenizer.vocabSize} tokens): pick a matching config or tokenizer`,
    );
  }
  const split = splitCorpus(await loadCorpus({ sources: o.sources }));
  const trainStream = tokenStream([...split.train, ...o.extraTrainDocuments ?? []], o.tokenizer);
  const validStream = tokenStream(split.validation, o.tokenizer);
  o.log(
    `corpus: ${split.train.length} train (+${o.extraTrainDocuments?.length ?? 0} extra) / ` +
      `${split.validation.length} validation documents, ` +
      `${trainStream.length} / ${validStream.length} tokens`,
  );
  const model = LlamaModel.create(gpu, o.config, o.weights ?? initLlamaWeights(o.config, o.seed), {
    trainBase: true,
  });
  const trainer = await Trainer.create(model, {
    batch: o.batch,
    seqLen: o.seqLen,
    lr: o.lr,
    schedule: { kind: o.schedule, warmupSteps: o.warmup, totalSteps: o.steps },
    adamw: { weightDecay: o.weightDecay },
    logEvery: o.logEvery,
  });
  const batches = trainBatches(trainStream, { batchSize: o.batch, seqLen: o.seqLen, seed: o.seed });
  let last = performance.now();
  let lastStep = 0;
  try {
    for (let s = 1; s <= o.steps; s++) {
      const { inputIds, labels } = batches.next().value;
      const record = await trainer.trainStep(inputIds, labels, s === o.steps);
      if (!record) continue;
      const now = performance.now();
      const tokensPerSecond = ((s - lastStep) * o.batch * o.seqLen) / ((now - last) / 1000);
      o.log(
        `step ${s}/${o.steps}  loss ${record.loss.toFixed(4)}  grad norm ${record.gradNorm.toFixed(3)}  ` +
          `lr ${record.lr.toExponential(2)}  ${tokensPerSecond.toFixed(0)} tokens/s  ` +
          `GPU live ${mib(gpu.memory.live)} peak ${mib(gpu.memory.peak)}`,
      );
      [last, lastStep] = [now, s];
    }
  } finally {
    trainer.destroy();
  }
  const validation = await evaluate(model, validStream, o.tokenizer, {
    batch: o.batch,
    seqLen: o.seqLen,
    maxBatches: o.evalBatches,
  });
  o.log(
    `validation: loss ${validation.loss.toFixed(4)}  perplexity ${validation.perplexity.toFixed(2)}  ` +
      `bits/byte ${validation.bitsPerByte.toFixed(4)}  (${validation.tokens} tokens)`,
  );
  return { model, validation };
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

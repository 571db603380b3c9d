/**
 * One fine-tuning run: a registered method at a rank, seed and rate, set up through the shared method path
 * (`lib/experiment/setup.ts`), trained on one task from the frozen base with the family's schedule, then
 * scored on the task's held-out items (a learning-rate search run is not scored: the search reads training
 * loss only). The result is one JSON record; a run that diverges or does not learn is a record too.
 *
 * @module
 */

import { join } from "node:path";
import { saveAdapters } from "../adapters/peft.ts";
import { tokenStream, trainBatches } from "../data/batches.ts";
import { getTokenizer, type Tokenizer } from "../data/tokenizer.ts";
import { checkRunSize, learningStatus } from "../experiment/matrix.ts";
import { type ResolvedMethod, resolveMethod, setupMethod } from "../experiment/setup.ts";
import type { Gpu } from "../gpu/device.ts";
import type { LlamaConfig } from "../model/config.ts";
import { LlamaModel } from "../model/llama.ts";
import type { FinetuneRunRecord, FinetuneRunRole, FinetuneRunSpec } from "../records.ts";
import { Trainer, TrainingDivergedError } from "../train/trainer.ts";
import type { BaseModel } from "../uuid/base.ts";
import { cyclicWindows, sftBatches, tokenizeExample } from "./batches.ts";
import type { FinetunePreset } from "./presets.ts";
import { bucket, choiceRows, promptIds, solutionRow, TaskScorer } from "./score.ts";
import { finetuneTask, type TaskData } from "./tasks.ts";

/** The unique key of a spec. */
export function finetuneRunId(spec: FinetuneRunSpec): string {
  const rank = spec.rank === null ? "full" : `r${spec.rank}`;
  const options = Object.entries(spec.options ?? {}).sort().map(([k, v]) => `${k}=${v}`).join(",");
  return [
    spec.preset,
    spec.task,
    spec.method,
    rank,
    spec.variant ?? "-",
    ...options ? [options] : [],
    `seed${spec.seed}`,
    `lr${spec.lr}`,
    `steps${spec.steps}xb${spec.batch}`,
    spec.base,
    spec.data,
    ...spec.dataDigest ? [`data${spec.dataDigest}`] : [],
  ].join("|");
}

/** Optimizer steps of a task under the preset: fixed, or epochs over its training set. */
export function taskSteps(preset: FinetunePreset, data: TaskData, tokenizer: Tokenizer): number {
  const length = preset.families[data.family].length;
  if ("steps" in length) return length.steps;
  const perEpoch = data.family === "domain"
    ? tokenStream(data.train, tokenizer).length / (preset.batch * preset.domainSeqLen)
    : data.train.length / preset.batch;
  return Math.max(1, Math.ceil(length.epochs * perEpoch));
}

/** The spec resolved against its method's defaults (throws naming a bad spec). */
export function resolveFinetuneRun(
  preset: FinetunePreset,
  spec: FinetuneRunSpec,
  steps: number,
): ResolvedMethod {
  return resolveMethod(spec, { seed: spec.seed, dropout: preset.adapterDropout, totalSteps: steps });
}

/** New tokens a math generation gets: the longest training completion's, with its EOS. */
export function mathNewTokens(data: Extract<TaskData, { family: "math" }>, tokenizer: Tokenizer): number {
  return Math.max(...data.train.map((e) => tokenizer.encode(e.completion).length)) + 1;
}

/** The training sequence length of a supervised task: its longest example. */
function sftSeqLen(data: Extract<TaskData, { family: "instruction" | "math" }>, tokenizer: Tokenizer) {
  return Math.max(...data.train.map((e) => tokenizeExample(e, tokenizer).ids.length));
}

/**
 * Throws, naming the example and what to do, unless every training example and scored item fits: training
 * sequences within the preset's `maxSeqLen` and the model's context, scored sequences within the context.
 */
export function checkTaskFits(
  task: string,
  data: TaskData,
  preset: FinetunePreset,
  config: LlamaConfig,
  tokenizer: Tokenizer,
): void {
  const context = config.maxPositionEmbeddings;
  const limit = Math.min(preset.maxSeqLen, context);
  const refuse = (what: string, n: number, max: number) => {
    throw new RangeError(
      `Cannot run task "${task}": ${what} is ${n} tokens, longer than the ${max}-token context; ` +
        `shorten or drop it`,
    );
  };
  if (data.train.length === 0) throw new RangeError(`Cannot run task "${task}": it has no training data`);
  if (data.family === "domain") {
    if (data.heldOut.length === 0) throw new RangeError(`Cannot run task "${task}": no held-out documents`);
    if (preset.domainSeqLen > context) refuse("a training window", preset.domainSeqLen, context);
    const windows = preset.domainWindows ?? preset.batch;
    const tokens = tokenStream(data.train, tokenizer).length;
    if (windows % preset.batch !== 0 || tokens < windows * preset.domainSeqLen) {
      throw new RangeError(
        `Cannot run task "${task}": ${windows} windows of ${preset.domainSeqLen} tokens in batches of ` +
          `${preset.batch} need a multiple of the batch and ${
            windows * preset.domainSeqLen
          } training tokens ` +
          `(it has ${tokens})`,
      );
    }
  } else {
    data.train.forEach((e, i) => {
      const n = tokenizeExample(e, tokenizer).ids.length;
      if (n > limit) refuse(`training example ${e.source ?? i + 1}`, n, limit);
    });
  }
  const choices = data.family === "instruction"
    ? [...data.zeroShot, ...data.fiveShot]
    : data.family === "domain"
    ? data.cloze
    : [];
  for (const item of choices) {
    const n = Math.max(...choiceRows(item, tokenizer).map((r) => r.ids.length));
    if (n > context) refuse(`scored item ${item.source ?? item.context.slice(0, 40)}`, n, context);
  }
  if (data.family === "math") {
    const extra = mathNewTokens(data, tokenizer);
    for (const tier of data.tiers) {
      if (tier.items.length === 0) {
        throw new RangeError(`Cannot run task "${task}": tier ${tier.name} is empty`);
      }
      for (const item of tier.items) {
        const n = bucket(promptIds(item, tokenizer).length) + extra;
        if (n > context) {
          refuse(`problem ${item.source ?? item.prompt.slice(0, 40)} with its answer`, n, context);
        }
        const solved = item.solution === undefined
          ? 0
          : solutionRow({ ...item, solution: item.solution }, tokenizer).ids.length;
        if (solved > context) {
          refuse(`problem ${item.source ?? item.prompt.slice(0, 40)} with its solution`, solved, context);
        }
      }
    }
  }
}

/** Scores a trained model on the task's held-out items. */
async function scoreTask(
  scorer: TaskScorer,
  data: TaskData,
  preset: FinetunePreset,
  task: string,
): Promise<Pick<FinetuneRunRecord, "scores" | "perplexity" | "solutionPerplexity">> {
  const columns = finetuneTask(task).paperColumns;
  if (data.family === "instruction") {
    return {
      scores: {
        [columns[0]!]: await scorer.choiceAccuracy(data.zeroShot),
        [columns[1]!]: await scorer.choiceAccuracy(data.fiveShot),
      },
    };
  }
  if (data.family === "math") {
    const extra = mathNewTokens(data, scorer.tokenizer);
    const scores: Record<string, number> = {}, solutionPerplexity: Record<string, number> = {};
    for (const [i, tier] of data.tiers.entries()) {
      scores[columns[i]!] = await scorer.mathAccuracy(tier.items, extra);
      const ppl = await scorer.solutionPerplexity(tier.items);
      if (ppl !== undefined) solutionPerplexity[columns[i]!] = ppl;
    }
    return { scores, ...Object.keys(solutionPerplexity).length ? { solutionPerplexity } : {} };
  }
  return {
    scores: { [columns[0]!]: await scorer.choiceAccuracy(data.cloze) },
    perplexity: await scorer.perplexity(data.heldOut, preset.domainSeqLen, preset.perplexityBatches),
  };
}

/** Endless training batches of a task. */
function taskBatches(data: TaskData, preset: FinetunePreset, tokenizer: Tokenizer, seed: number) {
  if (data.family === "domain") {
    const seqLen = preset.domainSeqLen, stream = tokenStream(data.train, tokenizer);
    const windows = preset.domainWindows;
    return {
      seqLen,
      // A fixed sample: the loss is read at the end of each pass, on the same batch.
      logEvery: windows === undefined ? undefined : windows / preset.batch,
      batches: windows === undefined
        ? trainBatches(stream, { batchSize: preset.batch, seqLen, seed })
        : cyclicWindows(stream, { windows, batchSize: preset.batch, seqLen }),
    };
  }
  const seqLen = sftSeqLen(data, tokenizer);
  const examples = data.train.map((e) => tokenizeExample(e, tokenizer));
  return {
    seqLen,
    batches: sftBatches(examples, { batchSize: preset.batch, seqLen, seed, pad: tokenizer.eos }),
  };
}

/** The spec of the un-fine-tuned base on a task (its record's spec: FFT at rate 0 for 0 steps; nothing trains). */
export function untrainedBaseSpec(
  task: string,
  on: Pick<FinetuneRunSpec, "preset" | "base" | "data" | "dataDigest">,
): FinetuneRunSpec {
  return { method: "fft", rank: null, task, seed: 0, lr: 0, steps: 0, batch: 0, ...on };
}

/** The key of the un-fine-tuned base's record on a task. */
export function untrainedBaseId(spec: FinetuneRunSpec): string {
  const digest = spec.dataDigest ? [`data${spec.dataDigest}`] : [];
  return [spec.preset, spec.task, "untrained-base", spec.base, spec.data, ...digest].join("|");
}

/** Scores the base itself, not fine-tuned, on a task's held-out items (Table 2's floor row). */
export async function scoreUntrainedBase(
  gpu: Gpu,
  preset: FinetunePreset,
  spec: FinetuneRunSpec,
  base: BaseModel,
  data: TaskData,
  log: (line: string) => void,
): Promise<Omit<FinetuneRunRecord, "provenance">> {
  const tokenizer = base.tokenizer ?? getTokenizer(preset.tokenizer);
  // Frozen: nothing trains, so no gradient buffers.
  const model = LlamaModel.create(gpu, base.config, base.weights, { trainBase: false });
  const scorer = new TaskScorer(model, tokenizer, preset.evalBatch);
  try {
    const scored = await scoreTask(scorer, data, preset, spec.task);
    log(`  untrained base: ${scoreLine(scored)}`);
    return {
      id: untrainedBaseId(spec),
      spec,
      role: "base",
      status: "ok",
      trainableParams: 0,
      steps: 0,
      losses: [],
      msPerStep: 0,
      ...scored,
    };
  } finally {
    scorer.destroy();
    model.destroy();
  }
}

/** Scores and perplexity as one log line. */
function scoreLine(scored: Pick<FinetuneRunRecord, "scores" | "perplexity" | "solutionPerplexity">): string {
  const shown = Object.entries(scored.scores).map(([k, v]) => `${k} ${(100 * v).toFixed(1)}%`);
  const ppl = scored.perplexity === undefined ? [] : [`perplexity ${scored.perplexity.toFixed(2)}`];
  const solved = Object.entries(scored.solutionPerplexity ?? {})
    .map(([k, v]) => `${k} solution perplexity ${v.toFixed(3)}`);
  return [...shown, ...ppl, ...solved].join(", ");
}

/** Options of {@link runFinetuneExperiment}. */
export interface FinetuneRunOptions {
  role: Exclude<FinetuneRunRole, "base">;
  log: (line: string) => void;
  /** Save the trained adapters in PEFT format under this directory (one folder per run). */
  saveAdaptersDir?: string;
}

/** A run id as a folder name. */
export function adapterFolder(id: string): string {
  return id.replace(/[^A-Za-z0-9._=-]+/g, "_");
}

/** Trains and (unless it is a search run) scores one run. */
export async function runFinetuneExperiment(
  gpu: Gpu,
  preset: FinetunePreset,
  spec: FinetuneRunSpec,
  base: BaseModel,
  data: TaskData,
  options: FinetuneRunOptions,
): Promise<Omit<FinetuneRunRecord, "provenance">> {
  const tokenizer = base.tokenizer ?? getTokenizer(preset.tokenizer);
  const steps = taskSteps(preset, data, tokenizer);
  checkRunSize(finetuneRunId(spec), spec, { steps, batch: preset.batch }, preset.name);
  const family = preset.families[data.family];
  const resolved = resolveFinetuneRun(preset, spec, steps);
  const run = await setupMethod(gpu, base, resolved);
  const { seqLen, batches, logEvery } = taskBatches(data, preset, tokenizer, spec.seed);
  let trainer: Trainer | undefined;
  const record: Omit<FinetuneRunRecord, "provenance"> = {
    id: finetuneRunId(spec),
    spec,
    role: options.role,
    status: "ok",
    trainableParams: run.trainableParams,
    steps,
    losses: [],
    scores: {},
    msPerStep: 0,
  };
  const scorer = new TaskScorer(run.model, tokenizer, preset.evalBatch);
  try {
    trainer = await Trainer.create(run.model, {
      batch: preset.batch / preset.microBatches,
      microBatches: preset.microBatches,
      seqLen,
      lr: spec.lr,
      schedule: { kind: family.schedule, warmupSteps: family.warmup, totalSteps: steps },
      adamw: { weightDecay: 0, groups: run.groups },
      logEvery: logEvery ?? Math.max(1, Math.round(steps / preset.lossPoints)),
    });
    run.attach(trainer);
    let trainingMs = 0;
    for (let step = 1; step <= steps; step++) {
      const { inputIds, labels } = batches.next().value;
      const start = performance.now();
      const loss = await trainer.trainStep(inputIds, labels, step === steps);
      trainingMs += performance.now() - start;
      if (loss) record.losses.push({ step, loss: loss.loss });
    }
    record.msPerStep = trainingMs / steps;
    const status = learningStatus(record.losses, tokenizer.vocabSize);
    if (options.role === "reported") {
      Object.assign(record, await scoreTask(scorer, data, preset, spec.task));
      options.log(`  loss ${record.losses.at(-1)?.loss.toFixed(3)}: ${scoreLine(record)}`);
      if (options.saveAdaptersDir && resolved.adapter) {
        await saveAdapters(
          join(options.saveAdaptersDir, adapterFolder(record.id)),
          resolved.adapter,
          run.adapters,
        );
      }
    }
    return { ...record, ...status };
  } catch (error) {
    if (!(error instanceof TrainingDivergedError)) throw error;
    return { ...record, status: "diverged", failure: error.message };
  } finally {
    scorer.destroy();
    trainer?.destroy();
    run.destroy();
  }
}

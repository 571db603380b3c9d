/**
 * One fine-tuning run of `deno task finetune`: a registered method set up on a base (a Hugging Face LLaMA folder,
 * or a model preset initialized from the seed) through the shared method path, trained on the user's examples,
 * and saved as a PEFT adapter (or, for a method that trains the base, a checkpoint), a resumable training state
 * and, with `merge`, a merged Hugging Face checkpoint.
 *
 * @module
 */

import { join, resolve } from "node:path";
import { mergeAndUnload } from "../adapters/merge.ts";
import { parsePeftConfig, saveAdapters } from "../adapters/peft.ts";
import { batchesPerEpoch, type Example, exampleBatches, readExamples } from "../data/examples.ts";
import { getTokenizer, type Tokenizer } from "../data/tokenizer.ts";
import {
  checkFits,
  type MethodRun,
  type ResolvedMethod,
  resolveMethod,
  setupMethod,
} from "../experiment/setup.ts";
import type { Gpu } from "../gpu/device.ts";
import { checkTensorFits } from "../gpu/tensor.ts";
import {
  llamaParameterShapes,
  loadCheckpoint,
  loadCheckpointConfig,
  saveCheckpoint,
} from "../model/checkpoint.ts";
import type { LlamaConfig } from "../model/config.ts";
import { initLlamaWeights } from "../model/init.ts";
import { MODEL_PRESETS, modelPreset } from "../model/presets.ts";
import { Trainer } from "../train/trainer.ts";
import {
  readTrainingStateInfo,
  restoreTrainingState,
  saveTrainingState,
  type TrainingStateInfo,
} from "../train/training_state.ts";
import { trainingProgress } from "./progress.ts";

/** Everything that fixes a run's result; saved in its state, so `--resume` continues the same run. */
export interface FinetuneSettings {
  /** A Hugging Face LLaMA folder, or a model preset name (initialized from `seed`). */
  base: string;
  /** A registered method name. */
  method: string;
  /** Null for a method without a rank (full fine-tuning). */
  rank: number | null;
  /** MoRA's variant; the method's default when omitted. */
  variant?: string;
  /** Peak learning rate (linear warmup and decay). */
  lr: number;
  /** Optimizer updates of the whole run. */
  totalSteps: number;
  /** The data file (a resumed run refuses it if changed). */
  data: string;
  /** SHA-256 of the data file's bytes. */
  dataSha256: string;
  /** Sequences per update. */
  batch: number;
  /** Tokens per sequence. */
  seq: number;
  /** Warmup updates. */
  warmup: number;
  /** Seed of the adapter initialization, dropout masks, data order (and a preset base's weights). */
  seed: number;
  /** Adapter input dropout, for methods that apply it. */
  dropout: number;
  /** The tokenizer when the base has no tokenizer.json of its own. */
  tokenizer: string;
  /** Progress lines (and loss read-backs) every this many steps. */
  logEvery: number;
}

/** Where a run writes, and how much of it runs now. */
export interface FinetuneTarget {
  /** The output folder. */
  out: string;
  /** Also write `out/merged`, the base with the adapters merged in (at the end of the run). */
  merge: boolean;
  /** Stop after this update (save the state; continue with `resume`); the run's end when omitted. */
  stopAfter?: number;
  /** A previous run's `out`, whose state this run continues. */
  resume?: string;
  /** Force plain progress lines or the bar; the default follows whether stdout is a terminal. */
  terminal?: boolean;
}

/** The SHA-256 of a file, as hex. */
export async function fileSha256(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

function isFolder(path: string): Promise<boolean> {
  return Deno.stat(path).then((s) => s.isDirectory, () => false);
}

/**
 * Checks, before any work, that `base` is a checkpoint folder with a valid `config.json` or a model preset, and
 * that `data` is a file.
 *
 * @throws {RangeError} or {Deno.errors.NotFound} saying which and what to pass instead.
 */
export async function checkBaseAndData(base: string, data: string): Promise<void> {
  if (await isFolder(base)) {
    await loadCheckpointConfig(base);
  } else if (MODEL_PRESETS[base] === undefined) {
    throw new RangeError(
      `Cannot use --base "${base}": it is neither a folder nor a model preset (${
        Object.keys(MODEL_PRESETS).join(", ")
      }); pass a Hugging Face LLaMA folder or a preset`,
    );
  }
  if (!await Deno.stat(data).then((s) => s.isFile, () => false)) {
    throw new Deno.errors.NotFound(
      `Cannot read --data "${data}": there is no such file; pass your data file`,
    );
  }
}

/** The base: a checkpoint folder (with its own tokenizer when it has one) or a preset at the run's seed. */
async function loadBase(settings: Pick<FinetuneSettings, "base" | "seed">, log: (line: string) => void) {
  if (await isFolder(settings.base)) return await loadCheckpoint(settings.base, log);
  const config = modelPreset(settings.base);
  log(
    `base: model preset "${settings.base}", randomly initialized from seed ${settings.seed} (not pretrained)`,
  );
  return { config, weights: initLlamaWeights(config, settings.seed), tokenizer: undefined };
}

/** Throws when the tokenizer's ids do not fit the model or a weight does not fit the device. */
function checkModel(config: LlamaConfig, tokenizer: Tokenizer, gpu: Gpu): void {
  if (tokenizer.vocabSize > config.vocabSize) {
    throw new RangeError(
      `Cannot fine-tune a model with vocab ${config.vocabSize} on the "${tokenizer.name}" tokenizer ` +
        `(${tokenizer.vocabSize} ids); pass --tokenizer with a vocabulary that fits, or a base with its tokenizer.json`,
    );
  }
  for (const { name, shape } of llamaParameterShapes(config)) checkTensorFits(gpu.limits, name, shape);
}

/** A new run's flags: the settings, with the length as `steps` or as `epochs` over the data. */
export type FinetuneRequest = Omit<FinetuneSettings, "totalSteps" | "dataSha256"> & {
  steps?: number;
  epochs?: number;
};

/** The settings of the state being resumed; its data must not have changed. */
async function resumedSettings(
  resume: string,
): Promise<{ settings: FinetuneSettings; state: TrainingStateInfo<FinetuneSettings> }> {
  const state = await readTrainingStateInfo<FinetuneSettings>(join(resume, "state"));
  if (await fileSha256(state.run.data) !== state.run.dataSha256) {
    throw new RangeError(
      `Cannot resume from "${resume}": the data file "${state.run.data}" changed since the run started; ` +
        `restore it, or start a new run`,
    );
  }
  // A merge-and-restart method may have moved its adapters to another variant (ReMoRA): set up that one.
  const adapterConfig = await Deno.readTextFile(join(resume, "state", "adapter", "adapter_config.json"))
    .then((text) => parsePeftConfig(JSON.parse(text), resume), () => undefined);
  const variant = adapterConfig?.moraVariant ?? state.run.variant;
  return { settings: { ...state.run, ...variant !== undefined ? { variant } : {} }, state };
}

/** A new run's settings, its length from `epochs` over the examples when `steps` is not given. */
async function newSettings(request: FinetuneRequest, examples: number): Promise<FinetuneSettings> {
  const { steps, epochs, ...rest } = request;
  const totalSteps = steps ?? epochs! * batchesPerEpoch(examples, request.batch);
  return { ...rest, totalSteps, dataSha256: await fileSha256(request.data) };
}

/** The run's method resolved against its defaults (throws naming a bad method, rank or variant). */
export function resolveRun(
  settings: Pick<FinetuneSettings, "method" | "rank" | "variant" | "seed" | "dropout">,
  totalSteps: number,
): ResolvedMethod {
  const variant = settings.variant !== undefined ? { variant: settings.variant } : {};
  return resolveMethod(
    { method: settings.method, rank: settings.rank, ...variant },
    { seed: settings.seed, dropout: settings.dropout, totalSteps },
  );
}

/** Saves what the run has: the adapter (or checkpoint), and its state. */
async function saveOutputs(
  target: FinetuneTarget,
  settings: FinetuneSettings,
  resolved: ResolvedMethod,
  run: MethodRun,
  trainer: Trainer,
  tokenizer: Tokenizer,
  log: (line: string) => void,
): Promise<void> {
  const baseName = await Deno.stat(settings.base).then(() => resolve(settings.base), () => settings.base);
  const state = join(target.out, "state");
  await saveTrainingState(state, trainer, trainer.step, settings);
  if (run.adapters.size > 0) {
    await saveAdapters(join(state, "adapter"), resolved.adapter!, run.adapters, baseName);
    await saveAdapters(target.out, resolved.adapter!, run.adapters, baseName);
    log(`saved the adapter to ${target.out} (adapter_config.json, adapter_model.safetensors)`);
  } else {
    await saveCheckpoint(target.out, run.model.config, await run.model.readWeights(), tokenizer, log);
    log(`saved the fine-tuned model to ${target.out}`);
  }
  log(`saved the training state after step ${trainer.step}/${settings.totalSteps} to ${state}`);
}

/** Merges the adapters into the base and saves `out/merged`; a method that trains the base has nothing to merge. */
async function saveMerged(out: string, run: MethodRun, tokenizer: Tokenizer, log: (line: string) => void) {
  if (run.adapters.size === 0) {
    log(`--merge: this method trains the base itself, so ${out} already is the model; nothing to merge`);
    return;
  }
  await mergeAndUnload(run.model, run.adapters);
  await saveCheckpoint(join(out, "merged"), run.model.config, await run.model.readWeights(), tokenizer, log);
  log(`saved the merged model to ${join(out, "merged")}`);
}

/** The outcome of {@link finetune}. */
export interface FinetuneResult {
  /** Updates applied (the run's end, or `stopAfter`). */
  step: number;
  /** Updates of the whole run. */
  totalSteps: number;
  /** The last loss read back. */
  loss?: number;
}

/**
 * Runs (or resumes) a fine-tuning run. Everything is validated (settings, data, method against the model, sizes
 * against the device, the output folder) before the first step.
 */
export async function finetune(
  gpu: Gpu,
  request: FinetuneRequest | undefined,
  target: FinetuneTarget,
  log: (line: string) => void,
): Promise<FinetuneResult> {
  const resumed = target.resume !== undefined ? await resumedSettings(target.resume) : undefined;
  const known = resumed?.settings ?? request!;
  const base = await loadBase(known, log);
  const tokenizer = base.tokenizer ?? getTokenizer(known.tokenizer);
  log(
    `tokenizer: ${tokenizer.name} (vocabulary ${tokenizer.vocabSize}, BOS ${tokenizer.bos}, EOS ${tokenizer.eos})`,
  );
  checkModel(base.config, tokenizer, gpu);
  const examples = await readExamples(known.data, tokenizer, known.seq);
  const settings = resumed?.settings ?? await newSettings(request!, examples.length);
  const state = resumed?.state;
  const resolved = resolveRun(settings, settings.totalSteps);
  checkFits(resolved, base.config);
  const run = await setupMethod(gpu, base, resolved);
  try {
    const trainer = await Trainer.create(run.model, {
      batch: settings.batch,
      seqLen: settings.seq,
      lr: settings.lr,
      schedule: { kind: "linear", warmupSteps: settings.warmup, totalSteps: settings.totalSteps },
      adamw: { weightDecay: 0, groups: run.groups },
      logEvery: settings.logEvery,
    });
    try {
      run.attach(trainer);
      if (state) await restoreTrainingState(join(target.resume!, "state"), trainer, state);
      log(
        `${examples.length} examples, ${run.trainableParams} trainable values, steps ${
          trainer.step + 1
        }..${settings.totalSteps}`,
      );
      const loss = await trainSteps(trainer, examples, settings, target, tokenizer.eos, log);
      await saveOutputs(target, settings, resolved, run, trainer, tokenizer, log);
      if (target.merge && trainer.step === settings.totalSteps) {
        await saveMerged(target.out, run, tokenizer, log);
      }
      return { step: trainer.step, totalSteps: settings.totalSteps, loss };
    } finally {
      trainer.destroy();
    }
  } finally {
    run.destroy();
  }
}

/** The training loop from the trainer's step to `stopAfter` (or the end), with progress; returns the last loss. */
async function trainSteps(
  trainer: Trainer,
  examples: Example[],
  settings: FinetuneSettings,
  target: FinetuneTarget,
  pad: number,
  log: (line: string) => void,
): Promise<number | undefined> {
  const last = Math.min(settings.totalSteps, target.stopAfter ?? settings.totalSteps);
  const batches = exampleBatches(examples, {
    batchSize: settings.batch,
    seqLen: settings.seq,
    seed: settings.seed,
    pad,
    start: trainer.step,
  });
  const progress = trainingProgress(settings.totalSteps, trainer.step, {
    every: settings.logEvery,
    log,
    terminal: target.terminal,
  });
  const start = performance.now();
  let tokens = 0, loss: number | undefined;
  try {
    for (let step = trainer.step + 1; step <= last; step++) {
      const batch = batches.next().value;
      const record = await trainer.trainStep(batch.inputIds, batch.labels, step === last);
      tokens += batch.tokens;
      if (record) loss = record.loss;
      progress.update({ step, loss, tokensPerSecond: tokens / ((performance.now() - start) / 1000) });
    }
  } finally {
    progress.stop();
  }
  return loss;
}

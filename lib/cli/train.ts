/**
 * `deno task train`: pretrains a LLaMA from scratch (or continues from `--init-from`) on the general-text
 * corpus with full fine-tuning, prints loss, tokens/s and GPU memory, evaluates validation perplexity and
 * bits per byte, and saves a Hugging Face model directory.
 *
 * Example: `deno task train --config reference --steps 200 --out reports/cache/reference`
 *
 * @module
 */

import { parseArgs } from "node:util";
import { trainBatches } from "../data/batches.ts";
import { loadCorpus, splitCorpus } from "../data/corpus.ts";
import { tokenStream } from "../data/batches.ts";
import { getTokenizer } from "../data/tokenizer.ts";
import { requestGpu } from "../gpu/device.ts";
import { loadCheckpoint, saveCheckpoint } from "../model/checkpoint.ts";
import { parseLlamaConfig } from "../model/config.ts";
import { initLlamaWeights } from "../model/init.ts";
import { LlamaModel } from "../model/llama.ts";
import { modelPreset } from "../model/presets.ts";
import { evaluate } from "../train/evaluate.ts";
import type { ScheduleKind } from "../train/schedule.ts";
import { Trainer } from "../train/trainer.ts";
import { runCli } from "./run_cli.ts";

const OPTIONS = {
  config: { type: "string", default: "reference" },
  "init-from": { type: "string" },
  tokenizer: { type: "string", default: "byte" },
  sources: { type: "string" },
  steps: { type: "string", default: "200" },
  batch: { type: "string", default: "8" },
  seq: { type: "string", default: "64" },
  lr: { type: "string", default: "1e-3" },
  warmup: { type: "string", default: "20" },
  schedule: { type: "string", default: "cosine" },
  "weight-decay": { type: "string", default: "0.1" },
  seed: { type: "string", default: "0" },
  "log-every": { type: "string", default: "20" },
  "eval-batches": { type: "string", default: "8" },
  out: { type: "string" },
} as const;

/** Parses a numeric flag, naming it in the error. */
export function numberFlag(name: string, value: string, integer = false): number {
  const n = Number(value);
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n))) {
    throw new RangeError(`Cannot use --${name} "${value}": expected ${integer ? "an integer" : "a number"}`);
  }
  return n;
}

async function modelConfig(spec: string) {
  if (spec.endsWith(".json")) return parseLlamaConfig(JSON.parse(await Deno.readTextFile(spec)), spec);
  return modelPreset(spec);
}

async function main(args: string[]): Promise<number> {
  const { values: v } = parseArgs({ args, options: OPTIONS, strict: true });
  const steps = numberFlag("steps", v.steps, true);
  const batch = numberFlag("batch", v.batch, true);
  const seqLen = numberFlag("seq", v.seq, true);
  const seed = numberFlag("seed", v.seed, true);
  const tokenizer = getTokenizer(v.tokenizer);
  const loaded = v["init-from"] ? await loadCheckpoint(v["init-from"]) : undefined;
  const config = loaded?.config ?? await modelConfig(v.config);
  if (config.vocabSize < tokenizer.vocabSize) {
    throw new RangeError(
      `Cannot train a model with vocab ${config.vocabSize} on the "${tokenizer.name}" tokenizer ` +
        `(${tokenizer.vocabSize} tokens): pick a matching config or tokenizer`,
    );
  }
  const docs = await loadCorpus({ sources: v.sources?.split(",") });
  const split = splitCorpus(docs);
  const trainStream = tokenStream(split.train, tokenizer);
  const validStream = tokenStream(split.validation, tokenizer);
  console.log(
    `corpus: ${split.train.length} train / ${split.validation.length} validation documents, ` +
      `${trainStream.length} / ${validStream.length} tokens`,
  );
  const gpu = await requestGpu();
  console.log(`adapter: ${gpu.adapter.description}${gpu.adapter.isFallbackAdapter ? " (software)" : ""}`);
  const model = LlamaModel.create(gpu, config, loaded?.weights ?? initLlamaWeights(config, seed), {
    trainBase: true,
  });
  const trainer = await Trainer.create(model, {
    batch,
    seqLen,
    lr: numberFlag("lr", v.lr),
    schedule: {
      kind: v.schedule as ScheduleKind,
      warmupSteps: numberFlag("warmup", v.warmup, true),
      totalSteps: steps,
    },
    adamw: { weightDecay: numberFlag("weight-decay", v["weight-decay"]) },
    logEvery: numberFlag("log-every", v["log-every"], true),
  });
  const batches = trainBatches(trainStream, { batchSize: batch, seqLen, seed });
  let last = performance.now();
  let lastStep = 0;
  for (let s = 1; s <= steps; s++) {
    const { inputIds, labels } = batches.next().value;
    const record = await trainer.trainStep(inputIds, labels, s === steps);
    if (record) {
      const now = performance.now();
      const tokensPerSecond = ((s - lastStep) * batch * seqLen) / ((now - last) / 1000);
      console.log(
        `step ${s}/${steps}  loss ${record.loss.toFixed(4)}  grad norm ${record.gradNorm.toFixed(3)}  ` +
          `lr ${record.lr.toExponential(2)}  ${tokensPerSecond.toFixed(0)} tokens/s  ` +
          `GPU live ${mib(gpu.memory.live)} peak ${mib(gpu.memory.peak)}`,
      );
      [last, lastStep] = [now, s];
    }
  }
  trainer.destroy();
  const result = await evaluate(model, validStream, tokenizer, {
    batch,
    seqLen,
    maxBatches: numberFlag("eval-batches", v["eval-batches"], true),
  });
  console.log(
    `validation: loss ${result.loss.toFixed(4)}  perplexity ${result.perplexity.toFixed(2)}  ` +
      `bits/byte ${result.bitsPerByte.toFixed(4)}  (${result.tokens} tokens)`,
  );
  if (v.out) {
    await saveCheckpoint(v.out, config, await model.readWeights());
    console.log(`saved ${v.out}`);
  }
  return 0;
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

if (import.meta.main) await runCli(main);

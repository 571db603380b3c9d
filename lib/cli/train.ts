/**
 * `deno task train`: pretrains a LLaMA from scratch (or continues from `--init-from`) on the general-text
 * corpus with full training, prints loss, tokens/s and GPU memory, evaluates validation perplexity and bits
 * per byte, and saves a Hugging Face model directory.
 *
 * Every flag, and the `--out` folder (writable, not the `--init-from` checkpoint unless `--overwrite`), is
 * checked before any work.
 *
 * Example: `deno task train --config reference --steps 200 --out reports/cache/reference`
 *
 * @module
 */

import { resolve } from "node:path";
import { getTokenizer } from "../data/tokenizer.ts";
import { requestGpu } from "../gpu/device.ts";
import { loadCheckpoint, saveCheckpoint } from "../model/checkpoint.ts";
import { parseLlamaConfig } from "../model/config.ts";
import { MODEL_PRESETS, modelPreset } from "../model/presets.ts";
import { pretrain } from "../train/pretrain.ts";
import type { ScheduleKind } from "../train/schedule.ts";
import { checkWritableDir, numberFlag, parseCliArgs, runCli } from "./run_cli.ts";
import { parseJsonFile } from "../io/json.ts";

/** The `--help` text. */
export const USAGE =
  `Usage: deno task train [--config PRESET|FILE.json | --init-from DIR] [options] [--out DIR]

Pretrains a LLaMA from scratch (or continues a checkpoint) on the general-text corpus with full training,
prints loss, tokens/s and GPU memory, evaluates validation perplexity and bits per byte, and saves a Hugging
Face model folder (config.json with the tokenizer's BOS/EOS ids, model.safetensors, generation_config.json,
the tokenizer files).

  --config PRESET|FILE  a model preset (${
    Object.keys(MODEL_PRESETS).join(", ")
  }) or a HF config.json (reference)
  --init-from DIR       continue from this checkpoint instead (its config is used)
  --tokenizer NAME      byte, llama-bytes or gpt2 (byte)
  --sources A,B         corpus sources to train on (all)
  --steps N             optimizer updates (200)
  --batch B, --seq L    sequences per update and tokens per sequence (8, 64)
  --lr RATE             peak learning rate (1e-3)
  --warmup N            warmup updates (20)
  --schedule KIND       constant, linear or cosine (cosine)
  --weight-decay W      AdamW decoupled weight decay (0.1)
  --seed S              initialization and data order (0)
  --log-every N         loss line every N updates (20)
  --eval-batches N      validation batches (8)
  --out DIR             where to save the model (not --init-from, unless --overwrite)
  --overwrite           allow --out to be the --init-from checkpoint
  --help                show this text

Examples:
  deno task train --config reference --steps 200 --out reports/cache/reference
  deno task train --init-from reports/cache/reference --steps 100 --lr 3e-4 --out reports/cache/reference-2
`;

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
  overwrite: { type: "boolean", default: false },
} as const;

async function modelConfig(spec: string) {
  if (spec.endsWith(".json")) {
    return parseLlamaConfig(parseJsonFile(await Deno.readTextFile(spec), spec), spec);
  }
  return modelPreset(spec);
}

type Flags = ReturnType<typeof parseFlags>;

function parseFlags(args: string[]) {
  return parseCliArgs({ args, options: OPTIONS, strict: true }).values;
}

const count = { integer: true, min: 1 }, natural = { integer: true, min: 0 };

/** The numeric flags, checked before any work. */
function numbers(v: Flags) {
  return {
    steps: numberFlag("steps", v.steps, count),
    batch: numberFlag("batch", v.batch, count),
    seqLen: numberFlag("seq", v.seq, count),
    lr: numberFlag("lr", v.lr, { above: 0 }),
    warmup: numberFlag("warmup", v.warmup, natural),
    weightDecay: numberFlag("weight-decay", v["weight-decay"], { min: 0 }),
    seed: numberFlag("seed", v.seed, natural),
    logEvery: numberFlag("log-every", v["log-every"], count),
    evalBatches: numberFlag("eval-batches", v["eval-batches"], count),
  };
}

/**
 * Checks, before training, that the checkpoint can be saved to `out`: a writable folder (created if absent)
 * that is not the `--init-from` checkpoint, unless `--overwrite` says so.
 */
async function checkOut(out: string, initFrom: string | undefined, overwrite: boolean): Promise<void> {
  if (initFrom !== undefined && resolve(initFrom) === resolve(out) && !overwrite) {
    throw new RangeError(
      `Cannot save to --out "${out}": it is the --init-from checkpoint, which saving would overwrite; ` +
        `pass another --out, or --overwrite to replace it`,
    );
  }
  await checkWritableDir("out", out);
}

async function main(args: string[]): Promise<number> {
  const v = parseFlags(args);
  const options = numbers(v);
  if (v.out !== undefined) await checkOut(v.out, v["init-from"], v.overwrite);
  const loaded = v["init-from"] ? await loadCheckpoint(v["init-from"]) : undefined;
  const config = loaded?.config ?? await modelConfig(v.config);
  const tokenizer = getTokenizer(v.tokenizer);
  const gpu = await requestGpu();
  console.log(`adapter: ${gpu.adapter.description}${gpu.adapter.isFallbackAdapter ? " (software)" : ""}`);
  const { model } = await pretrain(gpu, {
    ...options,
    config,
    weights: loaded?.weights,
    tokenizer,
    sources: v.sources?.split(","),
    schedule: v.schedule as ScheduleKind,
    log: console.log,
  });
  if (v.out) {
    await saveCheckpoint(v.out, config, await model.readWeights(), tokenizer);
    console.log(`saved ${v.out}`);
  }
  return 0;
}

if (import.meta.main) await runCli(main, USAGE);

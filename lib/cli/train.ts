/**
 * `deno task train`: pretrains a LLaMA from scratch (or continues from `--init-from`) on the general-text
 * corpus with full training, prints loss, tokens/s and GPU memory, evaluates validation perplexity and bits
 * per byte, and saves a Hugging Face model directory.
 *
 * Example: `deno task train --config reference --steps 200 --out reports/cache/reference`
 *
 * @module
 */

import { parseArgs } from "node:util";
import { getTokenizer } from "../data/tokenizer.ts";
import { requestGpu } from "../gpu/device.ts";
import { loadCheckpoint, saveCheckpoint } from "../model/checkpoint.ts";
import { parseLlamaConfig } from "../model/config.ts";
import { modelPreset } from "../model/presets.ts";
import { pretrain } from "../train/pretrain.ts";
import type { ScheduleKind } from "../train/schedule.ts";
import { numberFlag, runCli } from "./run_cli.ts";

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

async function modelConfig(spec: string) {
  if (spec.endsWith(".json")) return parseLlamaConfig(JSON.parse(await Deno.readTextFile(spec)), spec);
  return modelPreset(spec);
}

async function main(args: string[]): Promise<number> {
  const { values: v } = parseArgs({ args, options: OPTIONS, strict: true });
  const loaded = v["init-from"] ? await loadCheckpoint(v["init-from"]) : undefined;
  const config = loaded?.config ?? await modelConfig(v.config);
  const gpu = await requestGpu();
  console.log(`adapter: ${gpu.adapter.description}${gpu.adapter.isFallbackAdapter ? " (software)" : ""}`);
  const { model } = await pretrain(gpu, {
    config,
    weights: loaded?.weights,
    tokenizer: getTokenizer(v.tokenizer),
    sources: v.sources?.split(","),
    steps: numberFlag("steps", v.steps, true),
    batch: numberFlag("batch", v.batch, true),
    seqLen: numberFlag("seq", v.seq, true),
    lr: numberFlag("lr", v.lr),
    warmup: numberFlag("warmup", v.warmup, true),
    schedule: v.schedule as ScheduleKind,
    weightDecay: numberFlag("weight-decay", v["weight-decay"]),
    seed: numberFlag("seed", v.seed, true),
    logEvery: numberFlag("log-every", v["log-every"], true),
    evalBatches: numberFlag("eval-batches", v["eval-batches"], true),
    log: console.log,
  });
  if (v.out) {
    await saveCheckpoint(v.out, config, await model.readWeights());
    console.log(`saved ${v.out}`);
  }
  return 0;
}

if (import.meta.main) await runCli(main);

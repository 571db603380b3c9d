/**
 * `deno task finetune`: trains any registered method on the user's own data and base model, and saves a PEFT
 * adapter (`adapter_config.json` + `adapter_model.safetensors`, MoRA as peft-mora writes it), a resumable
 * training state and, with `--merge`, a merged Hugging Face checkpoint. See {@link USAGE}.
 *
 * @module
 */

import { ADAPTER_METHODS } from "../adapters/registry.ts";
import { requestGpu } from "../gpu/device.ts";
import { MODEL_PRESETS } from "../model/presets.ts";
import { join } from "node:path";
import { readTrainingStateInfo } from "../train/training_state.ts";
import { checkBaseAndData, finetune, type FinetuneRequest, resolveRun } from "./finetune_run.ts";
import { checkWritableDir, numberFlag, parseCliArgs, runCli } from "./run_cli.ts";

/** The `--help` text. */
export const USAGE =
  `Usage: deno task finetune --base DIR|PRESET --method NAME [--rank R] --data FILE --out DIR
                             (--steps N | --epochs E) [options]
       deno task finetune --resume DIR [--out DIR] [--stop-after K] [--merge]

Trains an adapter (any registered method) on your own text and saves it in Hugging Face PEFT format.

  --base DIR|PRESET   a Hugging Face LLaMA folder (config.json, model.safetensors or shards with
                      model.safetensors.index.json, F16/BF16/F32; its tokenizer.json is used when present),
                      or a model preset (${
    Object.keys(MODEL_PRESETS).join(", ")
  }: randomly initialized from --seed)
  --method NAME       a registered method: ${Object.keys(ADAPTER_METHODS).join(", ")}
  --rank R            the adapter's rank (not for fft)
  --variant NAME      MoRA's compress/decompress variant (e.g. sharing, rotation); the method's default if omitted
  --data FILE         plain text (one document), or JSONL with a "text" field per line, or JSONL with "prompt"
                      and "response" fields (the loss is taken on the response only)
  --out DIR           where the adapter, the training state (DIR/state) and the merged model (DIR/merged) go
  --steps N           optimizer updates of the run, or
  --epochs E          passes over the data (steps = E x ceil(examples / batch))
  --lr RATE           peak learning rate, linear warmup and decay (default 1e-4)
  --warmup N          warmup updates (default 0)
  --batch B           sequences per update (default 8)
  --seq L             tokens per sequence: documents are packed into windows of L, pairs padded (default 128)
  --dropout P         adapter input dropout, for methods that apply it (default 0)
  --seed S            adapter initialization, dropout and data order (default 0)
  --tokenizer NAME    byte, llama-bytes or gpt2, for a base without tokenizer.json (default byte)
  --log-every N       read the loss back every N updates (and, off a terminal, print a progress line) (10)
  --merge             at the end, also write DIR/merged: the base with the adapter merged in
  --stop-after K      stop after update K and save the state (continue later with --resume)
  --resume DIR        continue the run saved in DIR/state, bit for bit as if it had not stopped; the run's
                      settings come from the state (only --out, --stop-after and --merge may be given)
  --help              show this text

Examples:
  # the bundled 2-layer LLaMA in the Hub's layout (sharded BF16/F16, its own tokenizer.json), in seconds
  deno task finetune --base testdata/hf-llama-tiny --method mora --rank 4 --data notes.txt --steps 20 \\
    --lr 1e-2 --seq 64 --out runs/try-mora --merge
  # a real LLaMA-2 on prompt/response pairs; stop after 100 updates, then continue
  deno task finetune --base ~/models/Llama-2-7b-hf --method lora --rank 8 --data pairs.jsonl --epochs 3 \\
    --seq 256 --out runs/lora-pairs --stop-after 100
  deno task finetune --resume runs/lora-pairs --merge
`;

const OPTIONS = {
  base: { type: "string" },
  method: { type: "string" },
  rank: { type: "string" },
  variant: { type: "string" },
  data: { type: "string" },
  out: { type: "string" },
  steps: { type: "string" },
  epochs: { type: "string" },
  lr: { type: "string", default: "1e-4" },
  warmup: { type: "string", default: "0" },
  batch: { type: "string", default: "8" },
  seq: { type: "string", default: "128" },
  dropout: { type: "string", default: "0" },
  seed: { type: "string", default: "0" },
  tokenizer: { type: "string", default: "byte" },
  "log-every": { type: "string", default: "10" },
  merge: { type: "boolean", default: false },
  "stop-after": { type: "string" },
  resume: { type: "string" },
} as const;

type Values = ReturnType<
  typeof parseCliArgs<{ args: string[]; options: typeof OPTIONS; strict: true }>
>["values"];

const count = { integer: true, min: 1 }, natural = { integer: true, min: 0 };

/** Throws naming the first of `names` that is missing. */
function required(v: Values, names: (keyof typeof OPTIONS)[]): void {
  const missing = names.find((name) => v[name] === undefined);
  if (missing) throw new RangeError(`Cannot fine-tune without --${missing}; see deno task finetune --help`);
}

/** A new run's request from its flags, every value checked. */
function request(v: Values): FinetuneRequest {
  required(v, ["base", "method", "data", "out"]);
  if ((v.steps === undefined) === (v.epochs === undefined)) {
    throw new RangeError("Cannot fine-tune: give exactly one of --steps and --epochs");
  }
  const dropout = numberFlag("dropout", v.dropout, { min: 0 });
  if (dropout >= 1) {
    throw new RangeError(`Cannot use --dropout "${v.dropout}": expected a probability below 1`);
  }
  return {
    base: v.base!,
    method: v.method!,
    rank: v.rank === undefined ? null : numberFlag("rank", v.rank, count),
    ...v.variant !== undefined ? { variant: v.variant } : {},
    data: v.data!,
    ...v.steps !== undefined ? { steps: numberFlag("steps", v.steps, count) } : {},
    ...v.epochs !== undefined ? { epochs: numberFlag("epochs", v.epochs, count) } : {},
    lr: numberFlag("lr", v.lr, { above: 0 }),
    warmup: numberFlag("warmup", v.warmup, natural),
    batch: numberFlag("batch", v.batch, count),
    seq: numberFlag("seq", v.seq, { integer: true, min: 2 }),
    dropout,
    seed: numberFlag("seed", v.seed, natural),
    tokenizer: v.tokenizer,
    logEvery: numberFlag("log-every", v["log-every"], count),
  };
}

/** With `--resume`, the flags that may change: the rest come from the saved state. */
const RESUME_FLAGS = new Set(["resume", "out", "stop-after", "merge"]);

/** Checks that a resumed run is given no setting of its own (they are the saved run's). */
function checkResumeFlags(args: string[]): void {
  const flag = args.map((arg) => arg.match(/^--([^=]+)/)?.[1]).find((name) =>
    name && !RESUME_FLAGS.has(name)
  );
  if (flag !== undefined) {
    throw new RangeError(
      `Cannot pass --${flag} with --resume: a resumed run keeps the settings it was started with; ` +
        `pass only --out, --stop-after and --merge`,
    );
  }
}

/** `deno task finetune`: flags checked, then the run. */
export async function main(args: string[]): Promise<number> {
  const v = parseCliArgs({ args, options: OPTIONS, strict: true }).values;
  const given = v.resume === undefined ? request(v) : (checkResumeFlags(args), undefined);
  const out = v.out ?? v.resume!;
  const stopAfter = v["stop-after"] === undefined
    ? undefined
    : numberFlag("stop-after", v["stop-after"], count);
  if (given) {
    resolveRun(given, given.steps ?? 1); // the method, rank and variant, checked now (the length is not yet known)
    await checkBaseAndData(given.base, given.data);
  } else await readTrainingStateInfo(join(v.resume!, "state")); // a clear error when there is no state
  await checkWritableDir("out", out);
  const gpu = await requestGpu();
  console.log(`adapter: ${gpu.adapter.description}${gpu.adapter.isFallbackAdapter ? " (software)" : ""}`);
  const target = { out, merge: v.merge, ...v.resume !== undefined ? { resume: v.resume } : {} };
  const result = await finetune(gpu, given, stopAfter ? { ...target, stopAfter } : target, console.log);
  const loss = result.loss === undefined ? "" : `, loss ${result.loss.toFixed(4)}`;
  console.log(`done: step ${result.step}/${result.totalSteps}${loss}`);
  return 0;
}

if (import.meta.main) await runCli(main, USAGE);

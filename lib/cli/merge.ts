/**
 * `deno task merge --base DIR --adapter DIR --out DIR`: loads a PEFT adapter onto its base, merges it into the
 * weights and unloads it (PEFT `merge_and_unload`), and saves a Hugging Face checkpoint. As PEFT's
 * `safe_merge`, a merge that would put NaN or Inf into a weight is refused, and nothing is written.
 *
 * @module
 */

import { resolve } from "node:path";
import { mergeAndUnload } from "../adapters/merge.ts";
import { loadAdapters } from "../adapters/peft.ts";
import { getTokenizer } from "../data/tokenizer.ts";
import { requestGpu } from "../gpu/device.ts";
import { checkTensorFits } from "../gpu/tensor.ts";
import { llamaParameterShapes, loadCheckpoint, saveCheckpoint } from "../model/checkpoint.ts";
import { LlamaModel } from "../model/llama.ts";
import { checkWritableDir, parseCliArgs, runCli } from "./run_cli.ts";

/** The `--help` text. */
export const USAGE = `Usage: deno task merge --base DIR --adapter DIR --out DIR [--tokenizer NAME]

Merges a PEFT adapter (adapter_config.json + adapter_model.safetensors: LoRA and its variants, DoRA, MoRA)
into its base model and writes a Hugging Face checkpoint (config.json, model.safetensors,
generation_config.json and the tokenizer files) that LlamaForCausalLM.from_pretrained loads without PEFT.
A merge that would put NaN or Inf into a weight is refused (as PEFT's safe_merge) and nothing is written.

  --base DIR        the Hugging Face LLaMA folder the adapter was trained on
  --adapter DIR     the PEFT adapter folder (e.g. the --out of deno task finetune)
  --out DIR         where the merged checkpoint goes (not --base)
  --tokenizer NAME  byte, llama-bytes or gpt2, for a base without tokenizer.json (default byte)
  --help            show this text

Example:
  deno task merge --base ~/models/Llama-2-7b-hf --adapter runs/lora-pairs --out runs/lora-pairs-merged
`;

const OPTIONS = {
  base: { type: "string" },
  adapter: { type: "string" },
  out: { type: "string" },
  tokenizer: { type: "string", default: "byte" },
} as const;

/** `deno task merge`: flags and folders checked, then load, merge, save. */
export async function main(args: string[]): Promise<number> {
  const v = parseCliArgs({ args, options: OPTIONS, strict: true }).values;
  for (const flag of ["base", "adapter", "out"] as const) {
    if (v[flag] === undefined) {
      throw new RangeError(`Cannot merge without --${flag}; see deno task merge --help`);
    }
  }
  const [base, adapter, out] = [v.base!, v.adapter!, v.out!];
  if (resolve(out) === resolve(base)) {
    throw new RangeError(`Cannot save to --out "${out}": it is the --base checkpoint; pass another folder`);
  }
  await checkWritableDir("out", out);
  const loaded = await loadCheckpoint(base);
  const tokenizer = loaded.tokenizer ?? getTokenizer(v.tokenizer);
  const gpu = await requestGpu();
  console.log(`adapter: ${gpu.adapter.description}${gpu.adapter.isFallbackAdapter ? " (software)" : ""}`);
  for (const { name, shape } of llamaParameterShapes(loaded.config)) checkTensorFits(gpu.limits, name, shape);
  const model = LlamaModel.create(gpu, loaded.config, loaded.weights, { trainBase: false });
  try {
    const { config, adapters } = await loadAdapters(adapter, model);
    await mergeAndUnload(model, adapters); // refuses a non-finite merged weight before anything is saved
    await saveCheckpoint(out, loaded.config, await model.readWeights(), tokenizer);
    console.log(`merged ${config.method} r=${config.r} into ${base}: saved ${out}`);
  } finally {
    model.destroy();
  }
  return 0;
}

if (import.meta.main) await runCli(main, USAGE);

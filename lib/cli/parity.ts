/**
 * `deno task parity <model-dir | vectors.json>`: compares this project's WebGPU results with a float64 PyTorch
 * reference and prints one line per quantity with its max abs and rel error; exits 1 past tolerance.
 *
 * - `<model-dir>`: a Hugging Face LLaMA directory (`config.json`, `model.safetensors`) with `case.safetensors`
 *   (logits, loss, every gradient, a 5-step AdamW trajectory); every `<model-dir>/adapters/<case>/` with a PEFT
 *   adapter and its own `case.safetensors` is checked too.
 * - `<vectors.json>`: MoRA operator vectors (`testdata/golden/mora.json` layout): one line per case and variant.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { requestGpu } from "../gpu/device.ts";
import { formatParityLine, type ParityLine } from "../parity/compare.ts";
import { adapterCases, adapterParity } from "../parity/adapter_parity.ts";
import { llamaParity } from "../parity/llama_parity.ts";
import { moraParity, readMoraVectors } from "../parity/mora_parity.ts";
import { runCli } from "./run_cli.ts";

/** The `--help` text. */
export const USAGE = `Usage: deno task parity <model-dir | vectors.json>

Compares this project's WebGPU results with a float64 PyTorch reference and prints one line per quantity
with its max abs and rel error; exits 1 when one is past its tolerance.

  <model-dir>     a Hugging Face LLaMA folder (config.json, model.safetensors) with case.safetensors (logits,
                  loss, every gradient, a 5-step AdamW trajectory); each <model-dir>/adapters/<case>/ with a
                  PEFT adapter and its own case.safetensors is checked too
  <vectors.json>  MoRA operator vectors in the testdata/golden/mora.json layout
  --help          show this text

Examples:
  deno task parity testdata/golden/llama-tiny
  deno task parity testdata/golden/mora.json
`;

/** Reads the vectors file, or checks the model folder exists, before the GPU is asked for. */
async function checkTarget(target: string): Promise<void> {
  if (target.endsWith(".json")) {
    await readMoraVectors(target);
    return;
  }
  const info = await Deno.stat(target).catch(() => undefined);
  if (!info?.isDirectory) {
    throw new RangeError(
      `Cannot compare "${target}": not a folder of golden cases or a vectors .json file; see --help`,
    );
  }
}

async function main(args: string[]): Promise<number> {
  const { positionals } = parseArgs({ args, allowPositionals: true, options: {} });
  if (positionals.length !== 1) {
    console.error(USAGE);
    return 2;
  }
  const target = positionals[0]!;
  await checkTarget(target);
  const gpu = await requestGpu();
  console.log(`adapter: ${gpu.adapter.description}${gpu.adapter.isFallbackAdapter ? " (software)" : ""}`);
  const lines: ParityLine[] = [];
  const report = (title: string, part: ParityLine[]) => {
    console.log(`\n${title}`);
    for (const line of part) console.log(formatParityLine(line));
    lines.push(...part);
  };
  if (target.endsWith(".json")) {
    report(`MoRA operator vectors ${target}`, await moraParity(gpu, target));
  } else {
    report(`model ${target}`, await llamaParity(gpu, target));
    for (const caseDir of await adapterCases(target)) {
      report(`adapter ${caseDir}`, await adapterParity(gpu, target, caseDir));
    }
  }
  const failed = lines.filter((l) => !l.ok).length;
  console.log(`\n${lines.length - failed} passed, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}

if (import.meta.main) await runCli(main, USAGE);

/**
 * Parity of adapters with a PyTorch (PEFT / peft-mora) float64 reference: `<case>/adapter_config.json` and
 * `adapter_model.safetensors` on the base model one level up, and `<case>/case.safetensors` with the adapter
 * model's `logits`, `merged_logits` (after merge and unload), `loss`, `grad.<adapter tensor>` and a 5-step AdamW
 * trajectory of the adapter tensors (base frozen). Loading these files and matching all of it checks loading,
 * targeting, scaling, forward, backward, merge and the optimizer at once.
 *
 * @module
 */

import { join } from "node:path";
import { mergeAndUnload } from "../adapters/merge.ts";
import { loadAdapters } from "../adapters/peft.ts";
import type { Gpu } from "../gpu/device.ts";
import { runDispatches } from "../gpu/kernel.ts";
import { readTensor } from "../gpu/tensor.ts";
import { readSafetensors, type SafetensorsFile } from "../io/safetensors.ts";
import { loadCheckpoint } from "../model/checkpoint.ts";
import { LlamaModel } from "../model/llama.ts";
import { buildTrainPlan } from "../model/train_plan.ts";
import { compareValues, type ParityLine } from "./compare.ts";
import { caseBatch, GRAD_TOL, LOGITS_TOL, trajectoryParity } from "./llama_parity.ts";

/** PEFT's name of one of our trainable adapter tensors. */
export function peftName(name: string): string {
  return `base_model.model.${name}`;
}

/** The adapter case directories under `<modelDir>/adapters/` (those with a `case.safetensors`), sorted. */
export async function adapterCases(modelDir: string): Promise<string[]> {
  const root = join(modelDir, "adapters");
  const out: string[] = [];
  try {
    for await (const entry of Deno.readDir(root)) {
      if (entry.isDirectory) {
        try {
          await Deno.stat(join(root, entry.name, "case.safetensors"));
          out.push(join(root, entry.name));
        } catch (e) {
          if (!(e instanceof Deno.errors.NotFound)) throw e;
        }
      }
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return out.sort();
}

async function loadAdapterModel(gpu: Gpu, modelDir: string, caseDir: string) {
  const { config, weights } = await loadCheckpoint(modelDir);
  const model = LlamaModel.create(gpu, config, weights, { trainBase: false });
  const { adapters } = await loadAdapters(caseDir, model);
  return { model, adapters };
}

/** Runs every comparison of one adapter case; lines are prefixed with the case name. */
export async function adapterParity(gpu: Gpu, modelDir: string, caseDir: string): Promise<ParityLine[]> {
  const ref = await readSafetensors(join(caseDir, "case.safetensors"));
  const data = caseBatch(ref);
  const lines: ParityLine[] = [];
  const { model, adapters } = await loadAdapterModel(gpu, modelDir, caseDir);
  try {
    const plan = await buildTrainPlan(model, { batch: data.batch, seqLen: data.seqLen, withBackward: true });
    plan.writeBatch(data.inputIds, data.labels);
    await runDispatches(gpu, [...plan.forward, ...plan.backward]);
    lines.push(compareValues("logits", await readTensor(plan.logits), ref.f64("logits"), LOGITS_TOL));
    lines.push(compareValues("loss", [(await readTensor(plan.stats))[0]!], ref.f64("loss"), LOGITS_TOL));
    for (const t of model.trainable()) {
      const name = `grad.${peftName(t.name)}`;
      lines.push(compareValues(name, await readTensor(t.grad), ref.f64(name), GRAD_TOL));
    }
    plan.destroy();
    lines.push(...await trajectoryParity(model, ref, data, "adamw.after5.", peftName));
  } finally {
    for (const a of adapters.values()) a.destroy();
    model.destroy();
  }
  lines.push(await mergedLogitsParity(gpu, modelDir, caseDir, ref));
  return lines;
}

/** Merges the case's initial adapters into a fresh base model and compares its logits with `merged_logits`. */
async function mergedLogitsParity(
  gpu: Gpu,
  modelDir: string,
  caseDir: string,
  ref: SafetensorsFile,
): Promise<ParityLine> {
  const data = caseBatch(ref);
  const { model, adapters } = await loadAdapterModel(gpu, modelDir, caseDir);
  try {
    await mergeAndUnload(model, adapters);
    const plan = await buildTrainPlan(model, { batch: data.batch, seqLen: data.seqLen });
    plan.writeBatch(data.inputIds, data.labels);
    await runDispatches(gpu, plan.forward);
    const line = compareValues(
      "merged_logits",
      await readTensor(plan.logits),
      ref.f64("merged_logits"),
      LOGITS_TOL,
    );
    plan.destroy();
    return line;
  } finally {
    model.destroy();
  }
}

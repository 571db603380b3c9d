/**
 * The frozen base of the fine-tuning suites: a Hugging Face LLaMA directory (`--base DIR`), or the small LLaMA
 * this project pretrains on the corpus with the Factbook's Economy sections left out, so that the finance
 * analog is a domain the base never saw (the licence texts of the BioMed analog are in no corpus source). It
 * is cached under a key of everything that determines it, apart from the UUID suite's base.
 *
 * @module
 */

import { join } from "node:path";
import type { Gpu } from "../gpu/device.ts";
import { loadCheckpoint, loadCheckpointConfig } from "../model/checkpoint.ts";
import type { LlamaConfig } from "../model/config.ts";
import { modelPreset } from "../model/presets.ts";
import { cachedPretrainedBase } from "../train/base_cache.ts";
import type { BaseModel } from "../uuid/base.ts";
import { factbookWithoutEconomy } from "./domain_analog.ts";

/** How the fine-tuning base is pretrained (when no `--base` is given). */
export interface FinetuneBaseSpec {
  /** Model preset name (lib/model/presets.ts). */
  preset: string;
  tokenizer: string;
  steps: number;
  batch: number;
  seqLen: number;
  lr: number;
  seed: number;
}

/** The corpus sources the base pretrains on whole; the Factbook comes in without its Economy sections. */
const WHOLE_SOURCES = ["sotu", "brown", "wordnet"];

/** The cache directory name of a pretrained base. */
export function finetuneBaseKey(spec: FinetuneBaseSpec): string {
  return `finetune-base-${spec.preset}-${spec.tokenizer}-steps${spec.steps}-b${spec.batch}x${spec.seqLen}` +
    `-lr${spec.lr}-seed${spec.seed}-no-economy`;
}

/** The base's config without loading or training it. */
export async function finetuneBaseConfig(spec: FinetuneBaseSpec | string): Promise<LlamaConfig> {
  return typeof spec === "string" ? await loadCheckpointConfig(spec) : modelPreset(spec.preset);
}

/** Loads the base from `--base`, from the cache, or by pretraining (and caching) it. */
export async function obtainFinetuneBase(
  gpu: Gpu,
  spec: FinetuneBaseSpec | string,
  cacheDir: string,
  log: (line: string) => void,
): Promise<BaseModel> {
  if (typeof spec === "string") return { ...await loadCheckpoint(spec, log), dir: spec };
  return await cachedPretrainedBase(gpu, join(cacheDir, finetuneBaseKey(spec)), {
    ...spec,
    sources: WHOLE_SOURCES,
    extraTrainDocuments: factbookWithoutEconomy,
    note: "without the Factbook Economy sections",
  }, log);
}

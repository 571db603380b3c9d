/**
 * The frozen base model of the UUID experiment: a Hugging Face LLaMA directory the user passes (`--base DIR`,
 * how the paper preset runs with a real checkpoint), or a small LLaMA this project pretrains on the
 * general-text corpus and caches under a key made of everything that determines it, so it is built once.
 *
 * @module
 */

import { join } from "node:path";
import type { Tokenizer } from "../data/tokenizer.ts";
import type { Gpu } from "../gpu/device.ts";
import { loadCheckpoint, loadCheckpointConfig } from "../model/checkpoint.ts";
import type { LlamaConfig } from "../model/config.ts";
import { modelPreset } from "../model/presets.ts";
import { cachedPretrainedBase } from "../train/base_cache.ts";
import { uuidPretrainingDocuments } from "./data.ts";

/** How to get the base model. */
export type BaseSpec =
  | { kind: "dir"; dir: string }
  | {
    kind: "pretrained";
    /** Model preset name (lib/model/presets.ts). */
    preset: string;
    tokenizer: string;
    steps: number;
    batch: number;
    seqLen: number;
    lr: number;
    seed: number;
    /**
     * Unrelated UUID pairs mixed into the pretraining stream ({@link uuidPretrainingDocuments}), as `pairs`
     * pairs in documents of `perDocument`; none when omitted.
     */
    uuidDocuments?: { pairs: number; perDocument: number };
  };

/** A base model's weights on the CPU. */
export interface BaseModel {
  /** The model's configuration. */
  config: LlamaConfig;
  /** Weights by Hugging Face name. */
  weights: Map<string, Float32Array>;
  /** Where it was loaded from or cached to. */
  dir: string;
  /** Its own tokenizer (the folder's `tokenizer.json`), which runs on it use instead of the preset's. */
  tokenizer?: Tokenizer;
}

/** The cache directory name of a pretrained base: every field that changes the weights is in it. */
export function baseCacheKey(spec: Extract<BaseSpec, { kind: "pretrained" }>): string {
  const uuid = spec.uuidDocuments ? `-uuid${spec.uuidDocuments.pairs}x${spec.uuidDocuments.perDocument}` : "";
  return `base-${spec.preset}-${spec.tokenizer}-steps${spec.steps}-b${spec.batch}x${spec.seqLen}-lr${spec.lr}` +
    `-seed${spec.seed}${uuid}`;
}

/** The base's model config, without loading or training it (to validate a plan before any work). */
export async function baseConfig(spec: BaseSpec): Promise<LlamaConfig> {
  return spec.kind === "dir" ? await loadCheckpointConfig(spec.dir) : modelPreset(spec.preset);
}

/**
 * Loads the base: from its directory, from the cache, or by pretraining it (then caching it; a half-written
 * cache entry is never read, since config.json is written last and atomically).
 */
export async function obtainBase(
  gpu: Gpu,
  spec: BaseSpec,
  cacheDir: string,
  log: (line: string) => void,
): Promise<BaseModel> {
  if (spec.kind === "dir") return { ...await loadCheckpoint(spec.dir, log), dir: spec.dir };
  const dir = join(cacheDir, baseCacheKey(spec));
  const uuid = spec.uuidDocuments;
  return await cachedPretrainedBase(gpu, dir, {
    ...spec,
    extraTrainDocuments: () =>
      Promise.resolve(uuid && uuidPretrainingDocuments(uuid.pairs, uuid.perDocument, spec.seed)),
    note: `(cached as ${dir})`,
  }, log);
}

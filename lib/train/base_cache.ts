/**
 * A small base model pretrained on the bundled corpus and cached under a key of everything that determines
 * it, so each experiment pretrains its base once: the UUID suite's (with unrelated UUID pairs mixed in) and
 * the fine-tuning suites' (without the Factbook's Economy sections) share this recipe. A half-written cache
 * entry is never read, since config.json is written last and atomically.
 *
 * @module
 */

import { getTokenizer, type Tokenizer } from "../data/tokenizer.ts";
import type { Gpu } from "../gpu/device.ts";
import { loadCheckpoint, saveCheckpoint } from "../model/checkpoint.ts";
import type { LlamaConfig } from "../model/config.ts";
import { modelPreset } from "../model/presets.ts";
import { pretrain } from "./pretrain.ts";

/** How a cached base is pretrained. */
export interface CachedBaseRecipe {
  /** Model preset name (lib/model/presets.ts). */
  preset: string;
  /** Tokenizer name (lib/data/tokenizer.ts). */
  tokenizer: string;
  steps: number;
  batch: number;
  seqLen: number;
  lr: number;
  seed: number;
  /** Corpus sources (default: all). */
  sources?: string[];
  /** Documents added to the training split, made only when the base has to be pretrained. */
  extraTrainDocuments?: () => Promise<readonly { text: string }[] | undefined>;
  /** What the pretraining log line says after "pretraining <preset> for <steps> steps". */
  note: string;
}

/** A base's weights on the CPU, and where it is cached. */
export interface CachedBase {
  config: LlamaConfig;
  weights: Map<string, Float32Array>;
  dir: string;
  /** The cached folder's tokenizer (its `tokenizer.json`); undefined right after pretraining. */
  tokenizer?: Tokenizer;
}

/** The base cached at `dir`, or pretrained by `recipe` (then saved there). */
export async function cachedPretrainedBase(
  gpu: Gpu,
  dir: string,
  recipe: CachedBaseRecipe,
  log: (line: string) => void,
): Promise<CachedBase> {
  try {
    const loaded = await loadCheckpoint(dir, log);
    log(`base model: cached ${dir}`);
    return { ...loaded, dir };
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  log(`base model: pretraining ${recipe.preset} for ${recipe.steps} steps ${recipe.note}`);
  const config = modelPreset(recipe.preset);
  const tokenizer = getTokenizer(recipe.tokenizer);
  const { model } = await pretrain(gpu, {
    config,
    tokenizer,
    sources: recipe.sources,
    extraTrainDocuments: await recipe.extraTrainDocuments?.(),
    steps: recipe.steps,
    batch: recipe.batch,
    seqLen: recipe.seqLen,
    lr: recipe.lr,
    warmup: Math.min(100, Math.floor(recipe.steps / 10)),
    schedule: "cosine",
    weightDecay: 0.1,
    seed: recipe.seed,
    logEvery: Math.max(1, Math.floor(recipe.steps / 10)),
    evalBatches: 8,
    log,
  });
  const weights = await model.readWeights();
  model.destroy();
  await saveCheckpoint(dir, config, weights, tokenizer, log);
  return { config, weights, dir };
}

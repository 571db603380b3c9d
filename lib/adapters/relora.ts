/**
 * ReLoRA (Lialin et al. 2023), MoRA-faithful fine-tuning variant (spec baselines §7.2): LoRA whose adapters
 * are merged into W and re-initialized every `mergeEvery` updates, with a full optimizer reset and a
 * learning-rate re-warmup (`restarts.ts` runs that schedule for ReLoRA and ReMoRA alike).
 *
 * @module
 */

import { LORA_FAMILY, validateLoraConfig } from "./lora.ts";
import { mergeRestartDefaults, mergeRestartHooks, validateMergeRestart } from "./restarts.ts";
import type { AdapterMethod } from "./types.ts";

/**
 * The `"relora"` method: a LoRA layer, plus trainer hooks that merge it into W and re-initialize it every
 * `mergeEvery` updates (default: a quarter of the run) with an optimizer reset and re-warmup.
 */
export const relora: AdapterMethod = {
  name: "relora",
  summary: "ReLoRA (Lialin et al. 2023): LoRA merged and re-initialized every T updates, optimizer reset",
  ...LORA_FAMILY,
  defaults: (r, context) => ({ ...LORA_FAMILY.defaults!(r, context), ...mergeRestartDefaults(context) }),
  validate(c) {
    validateLoraConfig(c);
    validateMergeRestart(c, "ReLoRA");
  },
  attach: mergeRestartHooks(),
};

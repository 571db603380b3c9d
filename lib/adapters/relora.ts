/**
 * ReLoRA (Lialin et al. 2023), MoRA-faithful fine-tuning variant (spec baselines §7.2): LoRA whose adapters
 * are merged into W and re-initialized every `mergeEvery` updates, with a full optimizer reset and a
 * 50-update learning-rate re-warmup (`restarts.ts` runs that schedule for ReLoRA and ReMoRA alike).
 *
 * @module
 */

import { validateLoraConfig, wrapLora } from "./lora.ts";
import type { AdapterMethod } from "./types.ts";

/** ReLoRA. */
export const reLora: AdapterMethod = {
  name: "relora",
  summary: "ReLoRA (Lialin et al. 2023): LoRA merged and re-initialized every T updates, optimizer reset",
  validate(c) {
    validateLoraConfig(c);
    if (!Number.isInteger(c.mergeEvery) || c.mergeEvery! < 1) {
      throw new RangeError(`Cannot use ReLoRA without mergeEvery: set the merge period in updates`);
    }
  },
  wrap: wrapLora,
  appliesDropout: true,
};

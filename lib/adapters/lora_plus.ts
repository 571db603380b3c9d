/**
 * LoRA+ (Hayou et al. 2024; spec baselines §5): LoRA with B's learning rate multiplied by λ
 * (`loraPlusRatio`, the paper used 2 and 4). Model, init, forward, backward and merge are LoRA's.
 *
 * @module
 */

import { validateLoraConfig, wrapLora } from "./lora.ts";
import type { AdapterMethod } from "./types.ts";

/** LoRA+. */
export const loraPlus: AdapterMethod = {
  name: "lora+",
  summary: "LoRA+ (Hayou et al. 2024): LoRA with B's learning rate λ times A's",
  validate(c) {
    validateLoraConfig(c);
    if (!(c.loraPlusRatio !== undefined && c.loraPlusRatio > 0)) {
      throw new RangeError(`Cannot use LoRA+ without a positive loraPlusRatio (λ), got ${c.loraPlusRatio}`);
    }
  },
  wrap: wrapLora,
  appliesDropout: true,
  groups: (c) => ({ lora_B: { lrScale: c.loraPlusRatio! } }),
};

/**
 * LoRA+ (Hayou et al. 2024; spec baselines §5): LoRA with B's learning rate multiplied by λ
 * (`loraPlusRatio`, the paper used 2 and 4). Model, init, forward, backward and merge are LoRA's.
 *
 * @module
 */

import { LORA_FAMILY, validateLoraConfig } from "./lora.ts";
import type { AdapterMethod } from "./types.ts";

/**
 * The `"lora+"` method (`loraPlus`: `+` cannot appear in an identifier): a LoRA layer whose `lora_B` group
 * trains at λ = `loraPlusRatio` times the run's learning rate (default 4).
 */
export const loraPlus: AdapterMethod = {
  name: "lora+",
  summary: "LoRA+ (Hayou et al. 2024): LoRA with B's learning rate λ times A's",
  ...LORA_FAMILY,
  // λ = 4, the larger of the paper's two settings (spec baselines §5).
  defaults: (r, context) => ({ ...LORA_FAMILY.defaults!(r, context), loraPlusRatio: 4 }),
  validate(c) {
    validateLoraConfig(c);
    if (!(c.loraPlusRatio !== undefined && c.loraPlusRatio > 0)) {
      throw new RangeError(`Cannot use LoRA+ without a positive loraPlusRatio (λ), got ${c.loraPlusRatio}`);
    }
  },
  groups: (c) => ({ lora_B: { lrScale: c.loraPlusRatio! } }),
};

/**
 * AsyLoRA (Zhu et al. 2024; spec baselines §6): LoRA whose A starts with orthonormal rows (A·Aᵀ = I) and
 * B at zero. MoRA's runs train A as well (the default here); `freezeA` gives the original method, where only
 * B trains. Orthonormal rows come from Gaussian rows and Gram-Schmidt (Haar-distributed), the practical
 * recipe of the spec; torch's RNG and SVD cannot be reproduced bit for bit anyway.
 *
 * @module
 */

import { LORA_FAMILY, wrapLora } from "./lora.ts";
import type { AdapterMethod } from "./types.ts";

/**
 * The `"asylora"` method: a LoRA layer whose A starts with orthonormal rows, trained unless `freezeA`;
 * refuses r above the layer's input size (no more than `in` orthonormal rows exist).
 */
export const asylora: AdapterMethod = {
  name: "asylora",
  summary: "AsyLoRA (Zhu et al. 2024): LoRA with orthonormal-row A, optionally frozen",
  ...LORA_FAMILY,
  wrap: (gpu, base, c, scratch, dropoutStep) => {
    if (c.r > base.inFeatures) {
      throw new RangeError(
        `Cannot give "${base.name}" ${c.r} orthonormal rows of length ${base.inFeatures}: lower r`,
      );
    }
    return wrapLora(gpu, base, c, scratch, dropoutStep, { init: "orthonormal", trainA: !c.freezeA });
  },
};

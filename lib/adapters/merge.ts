/**
 * Folding adapters into the base weights: `W ← W0 + ΔW` (PEFT `merge_and_unload`). The merged model then
 * computes the same logits as the adapter model (tested for every method). ΔW is computed in float64 from
 * the adapter tensors and added to the float32 base weight on the CPU, once per layer.
 *
 * @module
 */

import { readTensor, writeTensor } from "../gpu/tensor.ts";
import type { LlamaModel } from "../model/llama.ts";
import type { AdapterLayer } from "./types.ts";

/** Adds the adapter's ΔW into its base weight; the adapter stays in place (ReLoRA re-initializes it next). */
export async function mergeIntoBase(adapter: AdapterLayer): Promise<void> {
  const delta = await adapter.deltaWeight();
  const weight = await readTensor(adapter.base.weight);
  for (let i = 0; i < weight.length; i++) {
    const merged = weight[i]! + delta[i]!;
    if (!Number.isFinite(merged)) {
      throw new RangeError(
        `Cannot merge the adapter of "${adapter.name}": the merged weight has a non-finite value at ${i}; ` +
          `the adapter is broken (NaN or overflow in training)`,
      );
    }
    weight[i] = merged;
  }
  writeTensor(adapter.base.weight, weight);
}

/**
 * Merges every adapter into its base weight and puts the plain base layers back (merge and unload).
 * Plans built before must be rebuilt.
 */
export async function mergeAndUnload(model: LlamaModel, adapters: Map<string, AdapterLayer>): Promise<void> {
  for (const [path, adapter] of adapters) {
    await mergeIntoBase(adapter);
    model.setLinear(path, adapter.base);
    adapter.destroy();
  }
  adapters.clear();
}

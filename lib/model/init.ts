/**
 * Seeded initialisation of a LLaMA, as HF `LlamaPreTrainedModel._init_weights` does it: linears and
 * embeddings from N(0, 0.02²) (`initializer_range`), RMSNorm weights 1.
 *
 * Each tensor has its own generator, seeded from the run seed and the tensor's name, so the values
 * of one tensor never depend on which other tensors exist (adding layers does not shift them). The
 * generator is mulberry32 with Box-Muller; V8's `Math.log` / `Math.cos` / `Math.sin` are software
 * (fdlibm) implementations, so the bits are the same on every machine.
 *
 * @module
 */

import { LLAMA_INITIALIZER_RANGE, type LlamaConfig } from "./config.ts";
import { llamaParameterShapes } from "./checkpoint.ts";
import { SeededRandom } from "../random.ts";

/**
 * Fresh weights for every parameter of {@link llamaParameterShapes}, deterministic in
 * `(config, seed)`: norms (1-D tensors) are 1, every matrix is N(0, 0.02²).
 */
export function initLlamaWeights(c: LlamaConfig, seed: number): Map<string, Float32Array<ArrayBuffer>> {
  if (!Number.isSafeInteger(seed)) {
    throw new RangeError(`Init seed ${seed} is not an integer; pass a whole number such as 42`);
  }
  const weights = new Map<string, Float32Array<ArrayBuffer>>();
  for (const { name, shape } of llamaParameterShapes(c)) {
    const size = shape.reduce((n, d) => n * d, 1);
    const values = shape.length === 1
      ? new Float32Array(size).fill(1)
      : new SeededRandom(seed, name).normals(size, LLAMA_INITIALIZER_RANGE);
    weights.set(name, values);
  }
  return weights;
}

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

/** Mixes the run seed and a tensor name into a 32-bit generator state (FNV-1a, then a murmur3 finaliser). */
function tensorSeed(seed: number, name: string): number {
  let h = 0x811c9dc5;
  const mix = (word: number) => {
    h = Math.imul(h ^ (word >>> 0), 0x01000193);
  };
  mix(seed);
  mix(Math.floor(seed / 2 ** 32));
  for (let i = 0; i < name.length; i++) mix(name.charCodeAt(i));
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Mulberry32: a uniform generator in [0, 1) from a 32-bit state. */
function mulberry32(state: number): () => number {
  return () => {
    let t = (state = (state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` values from N(0, std²), Box-Muller using both outputs of each pair. */
function normals(n: number, std: number, uniform: () => number): Float32Array<ArrayBuffer> {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const radius = std * Math.sqrt(-2 * Math.log(1 - uniform())); // 1 − u is in (0, 1]
    const angle = 2 * Math.PI * uniform();
    out[i] = radius * Math.cos(angle);
    if (i + 1 < n) out[i + 1] = radius * Math.sin(angle);
  }
  return out;
}

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
      : normals(size, LLAMA_INITIALIZER_RANGE, mulberry32(tensorSeed(seed, name)));
    weights.set(name, values);
  }
  return weights;
}

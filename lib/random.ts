/**
 * Seeded random numbers that are the same on every machine: mulberry32 seeded from a run seed and a
 * name (FNV-1a then a murmur3 finaliser), Box-Muller normals. V8's `Math.log`/`Math.cos`/`Math.sin` are
 * software (fdlibm) implementations, so the bits do not depend on the CPU. Each named tensor gets its own
 * generator, so its values never depend on which other tensors exist.
 *
 * @module
 */

/** Mixes a seed and a name into a 32-bit generator state. */
export function nameSeed(seed: number, name: string): number {
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

/** Mulberry32: uniform floats in [0, 1) from a 32-bit state. */
export function mulberry32(state: number): () => number {
  let s = state >>> 0;
  return () => {
    let t = (s = (s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A generator for one named tensor. */
export class SeededRandom {
  readonly #uniform: () => number;

  /** @param seed run seed (a safe integer); @param name what is being drawn, e.g. a tensor name */
  constructor(seed: number, name: string) {
    if (!Number.isSafeInteger(seed)) {
      throw new RangeError(`Seed ${seed} is not an integer; pass a whole number such as 42`);
    }
    this.#uniform = mulberry32(nameSeed(seed, name));
  }

  /** Uniform in [0, 1) (mulberry32). */
  next(): number {
    return this.#uniform();
  }

  /** `n` values from N(0, std²), Box-Muller using both outputs of each pair. */
  normals(n: number, std: number): Float32Array<ArrayBuffer> {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i += 2) {
      const radius = std * Math.sqrt(-2 * Math.log(1 - this.next())); // 1 − u is in (0, 1]
      const angle = 2 * Math.PI * this.next();
      out[i] = radius * Math.cos(angle);
      if (i + 1 < n) out[i + 1] = radius * Math.sin(angle);
    }
    return out;
  }

  /** `n` values uniform in [−bound, bound) (kaiming-uniform with a = √5 is bound 1/√fan_in). */
  uniformArray(n: number, bound: number): Float32Array<ArrayBuffer> {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = (2 * this.next() - 1) * bound;
    return out;
  }

  /**
   * A (rows, cols) matrix with orthonormal rows (rows ≤ cols): Gaussian rows, then modified Gram-Schmidt
   * in float64 — Haar-distributed, the practical AsyLoRA init of spec baselines §6.
   */
  orthonormalRows(rows: number, cols: number): Float32Array<ArrayBuffer> {
    if (rows > cols) throw new RangeError(`Cannot make ${rows} orthonormal rows of length ${cols}`);
    const m = Float64Array.from(this.normals(rows * cols, 1));
    for (let i = 0; i < rows; i++) {
      const row = m.subarray(i * cols, (i + 1) * cols);
      for (let j = 0; j < i; j++) {
        const prev = m.subarray(j * cols, (j + 1) * cols);
        let dot = 0;
        for (let c = 0; c < cols; c++) dot += row[c]! * prev[c]!;
        for (let c = 0; c < cols; c++) row[c]! -= dot * prev[c]!;
      }
      let norm = 0;
      for (let c = 0; c < cols; c++) norm += row[c]! * row[c]!;
      norm = Math.sqrt(norm);
      for (let c = 0; c < cols; c++) row[c]! /= norm;
    }
    return Float32Array.from(m);
  }
}

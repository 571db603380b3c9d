/**
 * Scratch buffers shared by every layer of a model: a buffer whose contents live only inside one op (a
 * projection's adapter forward or backward) can be reused by the next layer, since the dispatches of a step
 * run in order. Keys name the role, so two buffers an op needs at the same time never collide.
 *
 * @module
 */

import type { Gpu } from "./device.ts";
import { createTensor, type Tensor } from "./tensor.ts";

/** Buffers by role and shape, allocated on first use, freed with the pool. */
export class ScratchPool {
  readonly #buffers = new Map<string, Tensor>();

  /**
   * An empty pool.
   *
   * @param gpu the device the buffers live on
   */
  constructor(readonly gpu: Gpu) {}

  /** The buffer for `role` with exactly this shape (allocated once, contents undefined on entry). */
  get(role: string, shape: readonly number[]): Tensor {
    const key = `${role}:${shape.join("x")}`;
    let t = this.#buffers.get(key);
    if (!t || t.destroyed) {
      t = createTensor(this.gpu, `scratch.${role}`, shape);
      this.#buffers.set(key, t);
    }
    return t;
  }

  /** Frees every buffer. */
  destroy(): void {
    for (const t of this.#buffers.values()) t.destroy();
    this.#buffers.clear();
  }
}

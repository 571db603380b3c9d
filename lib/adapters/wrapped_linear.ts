/**
 * The part every adapter shares: it wraps a frozen base layer (PEFT's pattern) and has that layer's name,
 * sizes and weight.
 *
 * @module
 */

import type { Tensor } from "../gpu/tensor.ts";
import type { DenseLinear } from "../model/linear.ts";

/** Forwards the base layer's name, sizes and weight; adapters extend it. */
export abstract class WrappedLinear {
  /** @param base the frozen base layer */
  constructor(readonly base: DenseLinear) {}

  /** The base layer's module path. */
  get name(): string {
    return this.base.name;
  }

  /** Input features of the base layer. */
  get inFeatures(): number {
    return this.base.inFeatures;
  }

  /** Output features of the base layer. */
  get outFeatures(): number {
    return this.base.outFeatures;
  }

  /** The base weight (outFeatures, inFeatures). */
  get weight(): Tensor {
    return this.base.weight;
  }
}

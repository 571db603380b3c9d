/**
 * The linear layer of a LLaMA block, as the model sees it: a frozen or trainable base weight
 * `W (out_features, in_features)` with `y = x·Wᵀ`, which adapters (LoRA, MoRA, ...) wrap by adding their own
 * contribution to the forward and backward passes (the Hugging Face PEFT pattern: the adapter wraps the base layer).
 *
 * @module
 */

import type { Gpu } from "../gpu/device.ts";
import type { Dispatch } from "../gpu/kernel.ts";
import type { Tensor } from "../gpu/tensor.ts";
import type { ScratchPool } from "../gpu/scratch.ts";
import { linearBackward, linearForward } from "../ops/matmul.ts";

/** A trainable tensor with its gradient and the name it is saved under. */
export interface TrainableTensor {
  /** Name in checkpoints (Hugging Face or PEFT naming). */
  name: string;
  /** The parameter. */
  value: Tensor;
  /** Its gradient, same shape, overwritten by every backward pass. */
  grad: Tensor;
  /** Optimizer group: "base", or an adapter-defined group such as "lora_B" (LoRA+). */
  group: string;
}

/** Arguments of a linear forward: `out = x·Wᵀ (+ adapter)`; x is (rows, in), out is (rows, out). */
export interface LinearForwardArgs {
  /** Output (rows, outFeatures), overwritten. */
  out: Tensor;
  /** Input (rows, inFeatures); kept alive until the backward pass. */
  x: Tensor;
  /** Number of rows (tokens). */
  rows: number;
  /**
   * Training step (adapters apply their input dropout) or evaluation (identity); absent means evaluation.
   * Training plans pass true, forward-only plans (evaluation, generation, merge checks) false.
   */
  training?: boolean;
}

/** Arguments of a linear backward. */
export interface LinearBackwardArgs {
  /** Input gradient (rows, inFeatures); omitted when nothing upstream needs it. */
  dx?: Tensor;
  /** Whether dx is added into (true) or overwritten (false). */
  accumulateDx: boolean;
  /** Output gradient (rows, outFeatures). */
  dy: Tensor;
  /** The forward input (rows, inFeatures). */
  x: Tensor;
  /** Number of rows (tokens). */
  rows: number;
  /** Whether the forward ran in training mode; the backward must reuse its dropout masks. Absent: false. */
  training?: boolean;
}

/** What the model calls for every projection; adapters implement the same interface around a base layer. */
export interface LinearLayer {
  /** Module path, e.g. `model.layers.0.self_attn.q_proj`. */
  readonly name: string;
  /** Input features. */
  readonly inFeatures: number;
  /** Output features. */
  readonly outFeatures: number;
  /** The base weight (outFeatures, inFeatures). */
  readonly weight: Tensor;
  /** Builds the forward dispatches for one activation shape. */
  forward(gpu: Gpu, args: LinearForwardArgs): Promise<Dispatch[]>;
  /** Builds the backward dispatches: dx and the gradients of every trainable tensor (overwritten). */
  backward(gpu: Gpu, args: LinearBackwardArgs): Promise<Dispatch[]>;
  /** Trainable tensors of this layer (empty for a frozen base layer without adapter). */
  trainable(): TrainableTensor[];
}

/** A plain linear layer: the base weight, trainable (full fine-tuning) when `weightGrad` is given. */
export class DenseLinear implements LinearLayer {
  /**
   * A layer on `weight`.
   *
   * @param name module path
   * @param weight base weight (outFeatures, inFeatures)
   * @param weightGrad gradient buffer when the weight trains; undefined when frozen
   * @param scratch the model's shared scratch pool (the weight gradient's transpose buffer)
   */
  constructor(
    readonly name: string,
    readonly weight: Tensor,
    readonly weightGrad?: Tensor,
    readonly scratch?: ScratchPool,
  ) {}

  /** Input features (columns of W). */
  get inFeatures(): number {
    return this.weight.shape[1]!;
  }

  /** Output features (rows of W). */
  get outFeatures(): number {
    return this.weight.shape[0]!;
  }

  /** `out = x·Wᵀ`: (rows, out) = (rows, in)·(out, in)ᵀ. */
  forward(gpu: Gpu, { out, x, rows }: LinearForwardArgs): Promise<Dispatch[]> {
    return linearForward(gpu, {
      out,
      x,
      w: this.weight,
      rows,
      inFeatures: this.inFeatures,
      outFeatures: this.outFeatures,
    });
  }

  /** `dx (+)= dy·W` and, when the weight trains, `dW = dyᵀ·x` (overwritten). */
  backward(gpu: Gpu, { dx, accumulateDx, dy, x, rows }: LinearBackwardArgs): Promise<Dispatch[]> {
    return linearBackward(gpu, {
      dx,
      dw: this.weightGrad,
      dy,
      x,
      w: this.weight,
      rows,
      inFeatures: this.inFeatures,
      outFeatures: this.outFeatures,
      accumulateDx,
      scratch: this.scratch,
    });
  }

  /** The weight when it trains. */
  trainable(): TrainableTensor[] {
    if (!this.weightGrad) return [];
    return [{ name: `${this.name}.weight`, value: this.weight, grad: this.weightGrad, group: "base" }];
  }
}

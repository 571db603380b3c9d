/**
 * Gradient accumulation over micro-batches (Hugging Face Trainer semantics): each micro-batch's loss is its
 * mean cross-entropy divided by the number of micro-batches (the plan's loss scale), and the gradients of the
 * micro-batches are summed into one buffer per trainable tensor, which the optimizer then reads. Backward
 * passes overwrite their gradients, so the sum is kept apart: the first micro-batch copies, the others add.
 *
 * @module
 */

import type { Gpu } from "../gpu/device.ts";
import type { Dispatch } from "../gpu/kernel.ts";
import { createTensor, type Tensor } from "../gpu/tensor.ts";
import type { TrainableTensor } from "../model/linear.ts";
import { axpy } from "../ops/elementwise.ts";

/** Sums of gradients (and of the loss statistics) over the micro-batches of one update. */
export class GradientAccumulator {
  readonly #sums: Tensor[];
  /** [Σ mean loss / k, Σ counted tokens / k] over the micro-batches: the update's mean loss. */
  readonly lossSum: Tensor;

  /**
   * Allocates one gradient sum per tensor and the loss sum.
   *
   * @param tensors what trains
   * @param microBatches micro-batches per update (k ≥ 2)
   */
  constructor(readonly gpu: Gpu, readonly tensors: TrainableTensor[], readonly microBatches: number) {
    this.#sums = tensors.map((t) => createTensor(gpu, `accum.${t.name}`, t.value.shape));
    this.lossSum = createTensor(gpu, "accum.loss", [2]);
  }

  /** The trainable tensors with the sums as their gradients (what the optimizer reads). */
  summed(): TrainableTensor[] {
    return this.tensors.map((t, i) => ({ ...t, grad: this.#sums[i]! }));
  }

  /** Dispatches after micro-batch `i`'s backward: sum = grad (i = 0) or sum += grad; the same for the loss. */
  async build(first: boolean, stats: Tensor): Promise<Dispatch[]> {
    const out: Dispatch[] = [];
    const pairs: [Tensor, Tensor, number][] = [
      ...this.tensors.map((t, i) => [this.#sums[i]!, t.grad, 1] as [Tensor, Tensor, number]),
      [this.lossSum, stats, 1 / this.microBatches],
    ];
    for (const [sum, value, scale] of pairs) {
      out.push(await axpy(this.gpu, { y: sum, x: value, alpha: scale, beta: first ? 0 : 1 }));
    }
    return out;
  }

  /** Frees the sums. */
  destroy(): void {
    for (const t of [...this.#sums, this.lossSum]) t.destroy();
  }
}

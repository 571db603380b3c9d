/**
 * AdamW over parameter groups (torch.optim.AdamW semantics), with global-norm gradient clipping, as
 * dispatches appended to the training step's command buffer. Per-step values (learning rate, bias
 * corrections) live in one small `hyper` tensor per group, rewritten before each submit.
 *
 * @module
 */

import type { Gpu } from "../gpu/device.ts";
import type { Dispatch } from "../gpu/kernel.ts";
import { collectScratch, createTensor, readTensor, type Tensor, writeTensor } from "../gpu/tensor.ts";
import type { TrainableTensor } from "../model/linear.ts";
import { ADAMW_HYPER_SIZE, adamwHyper, adamwUpdate } from "../ops/adamw.ts";
import { gradNorm } from "../ops/grad_norm.ts";

/** Hyperparameters of one group; `lrScale` multiplies the scheduled rate (LoRA+ uses it for B). */
export interface GroupConfig {
  /** Multiplier of the scheduled learning rate for this group. */
  lrScale: number;
  /** Decoupled weight decay. */
  weightDecay: number;
}

/** AdamW hyperparameters shared by all groups. */
export interface AdamWConfig {
  /** β1, the first moment's decay. */
  beta1: number;
  /** β2, the second moment's decay. */
  beta2: number;
  /** Denominator epsilon. */
  eps: number;
  /** Weight decay of groups without their own. */
  weightDecay: number;
  /** Global gradient-norm clip (Infinity disables it). */
  maxGradNorm: number;
  /** Per-group overrides by group name (see {@link TrainableTensor.group}). */
  groups?: Record<string, Partial<GroupConfig>>;
}

/** PyTorch's AdamW defaults with Hugging Face Trainer's clip of 1.0. */
export const DEFAULT_ADAMW: AdamWConfig = {
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  weightDecay: 0,
  maxGradNorm: 1,
};

/** One tensor's optimizer state, for a resumable training state. */
export interface MomentState {
  /** The trainable tensor's name. */
  name: string;
  /** First moment. */
  m: Float32Array<ArrayBuffer>;
  /** Second moment. */
  v: Float32Array<ArrayBuffer>;
  /** Updates since its state was last reset. */
  step: number;
}

interface Slot {
  param: TrainableTensor;
  m: Tensor;
  v: Tensor;
  /** Updates applied to this tensor since its state was last reset (torch's per-parameter `step`). */
  step: number;
}

/** AdamW state for a set of trainable tensors. */
export class AdamW {
  readonly #slots: Slot[];
  readonly #hyper = new Map<string, Tensor>();
  readonly #norm: Tensor;
  readonly #scratch: Tensor[] = [];

  /**
   * Allocates the moments of every tensor (zeros).
   *
   * @param tensors what to train
   * @param config hyperparameters
   */
  constructor(readonly gpu: Gpu, tensors: TrainableTensor[], readonly config: AdamWConfig) {
    this.#slots = tensors.map((param) => ({
      param,
      m: createTensor(gpu, `adam.m.${param.name}`, param.value.shape),
      v: createTensor(gpu, `adam.v.${param.name}`, param.value.shape),
      step: 0,
    }));
    for (const { param } of this.#slots) {
      if (!this.#hyper.has(param.group)) {
        this.#hyper.set(param.group, createTensor(gpu, `adam.hyper.${param.group}`, [ADAMW_HYPER_SIZE]));
      }
    }
    this.#norm = createTensor(gpu, "adam.grad_norm", [2]);
  }

  /** The [global norm, clip coefficient] tensor of the last step. */
  get gradNormTensor(): Tensor {
    return this.#norm;
  }

  /** Dispatches of clip + update, encoded after the backward pass. Built once. */
  async build(): Promise<Dispatch[]> {
    // A rebuild (ReMoRA) replaces the previous build's scratch (the norm's partial sums).
    for (const t of this.#scratch.splice(0)) t.destroy();
    const out = await collectScratch(this.gpu, this.#scratch, () =>
      gradNorm(this.gpu, {
        out: this.#norm,
        grads: this.#slots.map((s) => s.param.grad),
        maxNorm: this.config.maxGradNorm,
      }));
    for (const s of this.#slots) {
      out.push(
        ...await adamwUpdate(this.gpu, {
          param: s.param.value,
          m: s.m,
          v: s.v,
          grad: s.param.grad,
          hyper: this.#hyper.get(s.param.group)!,
          clip: this.#norm,
          n: s.param.value.size,
        }),
      );
    }
    return out;
  }

  /**
   * Writes the per-group values of the next update (call before submitting each step).
   * Tensors whose state was reset restart their bias correction at step 1; groups share one step count, so a
   * partial reset must cover whole groups (adapters reset their own group).
   */
  prepare(lr: number): void {
    const stepOfGroup = new Map<string, number>();
    for (const s of this.#slots) {
      s.step += 1;
      stepOfGroup.set(s.param.group, s.step);
    }
    for (const [group, tensor] of this.#hyper) {
      const g = { lrScale: 1, weightDecay: this.config.weightDecay, ...this.config.groups?.[group] };
      writeTensor(
        tensor,
        adamwHyper({
          lr: lr * g.lrScale,
          beta1: this.config.beta1,
          beta2: this.config.beta2,
          eps: this.config.eps,
          weightDecay: g.weightDecay,
          step: stepOfGroup.get(group)!,
        }),
      );
    }
  }

  /** Reads every tensor's moments and step count back (waits for the GPU). */
  async readState(): Promise<MomentState[]> {
    const out: MomentState[] = [];
    for (const s of this.#slots) {
      out.push({ name: s.param.name, m: await readTensor(s.m), v: await readTensor(s.v), step: s.step });
    }
    return out;
  }

  /**
   * Restores what {@link readState} read, tensor by tensor by name.
   *
   * @throws {RangeError} naming a tensor the state lacks or holds with another size.
   */
  writeState(state: readonly MomentState[]): void {
    const byName = new Map(state.map((s) => [s.name, s]));
    for (const s of this.#slots) {
      const saved = byName.get(s.param.name);
      if (!saved || saved.m.length !== s.m.size || saved.v.length !== s.v.size) {
        throw new RangeError(
          `Cannot restore the optimizer state of "${s.param.name}": the saved state lacks it or has another ` +
            `size; it was saved for another model or method`,
        );
      }
    }
    for (const s of this.#slots) {
      const saved = byName.get(s.param.name)!;
      writeTensor(s.m, saved.m);
      writeTensor(s.v, saved.v);
      s.step = saved.step;
    }
  }

  /** Zeroes the moments and step count of the tensors that `select` picks (ReLoRA/ReMoRA optimizer reset). */
  reset(select: (t: TrainableTensor) => boolean = () => true): void {
    for (const s of this.#slots) {
      if (!select(s.param)) continue;
      writeTensor(s.m, new Float32Array(s.m.size));
      writeTensor(s.v, new Float32Array(s.v.size));
      s.step = 0;
    }
  }

  /** Frees the optimizer state. */
  destroy(): void {
    for (const s of this.#slots) {
      s.m.destroy();
      s.v.destroy();
    }
    for (const t of [...this.#hyper.values(), ...this.#scratch]) t.destroy();
    this.#norm.destroy();
  }
}

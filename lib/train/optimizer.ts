/**
 * AdamW over parameter groups (torch.optim.AdamW semantics), with global-norm gradient clipping, as
 * dispatches appended to the training step's command buffer: one gradient-norm pass over all gradients
 * and one AdamW dispatch per group of tensors (see lib/ops/adamw.ts), whose moments live in shared
 * arenas. Per-step values (learning rate, bias corrections) live in one small `hyper` table, a row per
 * group, rewritten before each submit.
 *
 * @module
 */

import type { Gpu } from "../gpu/device.ts";
import type { Dispatch } from "../gpu/kernel.ts";
import { collectScratch, createTensor, readTensor, type Tensor, writeTensor } from "../gpu/tensor.ts";
import type { TrainableTensor } from "../model/linear.ts";
import { ADAMW_HYPER_SIZE, adamwHyper, adamwUpdate, packMoments } from "../ops/adamw.ts";
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
  /** The moment arena its m and v live in. */
  arena: Arena;
  /** First value of its moments in the arena. */
  offset: number;
  /** Row of its group in the hyper table. */
  groupRow: number;
  /** Updates applied to this tensor since its state was last reset (torch's per-parameter `step`). */
  step: number;
}

/** First and second moments of several tensors, one buffer each (one storage binding). */
interface Arena {
  m: Tensor;
  v: Tensor;
}

/** AdamW state for a set of trainable tensors. */
export class AdamW {
  readonly #slots: Slot[];
  readonly #arenas: Arena[];
  /** The groups' names, in the order of their rows in `#hyper`. */
  readonly #groups: string[];
  /** Every group's {@link adamwHyper} values, one row of ADAMW_HYPER_SIZE per group. */
  readonly #hyper: Tensor;
  readonly #norm: Tensor;
  readonly #scratch: Tensor[] = [];

  /**
   * Allocates the moments of every tensor (zeros), packed in as few arenas as the binding limit allows.
   *
   * @param tensors what to train
   * @param config hyperparameters
   */
  constructor(readonly gpu: Gpu, tensors: TrainableTensor[], readonly config: AdamWConfig) {
    const { maxStorageBufferBindingSize, maxBufferSize } = gpu.limits;
    const maxValues = Math.floor(Math.min(maxStorageBufferBindingSize, maxBufferSize) / 4);
    const { places, arenaSizes } = packMoments(tensors.map((t) => t.value.size), maxValues);
    this.#arenas = arenaSizes.map((size, i) => ({
      m: createTensor(gpu, `adam.m.${i}`, [size]),
      v: createTensor(gpu, `adam.v.${i}`, [size]),
    }));
    this.#groups = [...new Set(tensors.map((t) => t.group))];
    this.#slots = tensors.map((param, i) => ({
      param,
      arena: this.#arenas[places[i]!.arena]!,
      offset: places[i]!.offset,
      groupRow: this.#groups.indexOf(param.group),
      step: 0,
    }));
    this.#hyper = createTensor(gpu, "adam.hyper", [this.#groups.length, ADAMW_HYPER_SIZE]);
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
    for (const arena of this.#arenas) {
      const tensors = this.#slots.filter((s) => s.arena === arena).map((s) => ({
        param: s.param.value,
        grad: s.param.grad,
        momentOffset: s.offset,
        hyperOffset: s.groupRow * ADAMW_HYPER_SIZE,
      }));
      out.push(...await adamwUpdate(this.gpu, { tensors, ...arena, hyper: this.#hyper, clip: this.#norm }));
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
    const table = new Float32Array(this.#hyper.size);
    this.#groups.forEach((group, row) => {
      const g = { lrScale: 1, weightDecay: this.config.weightDecay, ...this.config.groups?.[group] };
      const hyper = adamwHyper({
        lr: lr * g.lrScale,
        beta1: this.config.beta1,
        beta2: this.config.beta2,
        eps: this.config.eps,
        weightDecay: g.weightDecay,
        step: stepOfGroup.get(group)!,
      });
      table.set(hyper, row * ADAMW_HYPER_SIZE);
    });
    writeTensor(this.#hyper, table);
  }

  /** Reads every tensor's moments and step count back (waits for the GPU once per arena). */
  async readState(): Promise<MomentState[]> {
    const read = new Map<Arena, { m: Float32Array<ArrayBuffer>; v: Float32Array<ArrayBuffer> }>();
    for (const arena of this.#arenas) {
      read.set(arena, { m: await readTensor(arena.m), v: await readTensor(arena.v) });
    }
    return this.#slots.map((s) => {
      const { m, v } = read.get(s.arena)!;
      const end = s.offset + s.param.value.size;
      return { name: s.param.name, m: m.slice(s.offset, end), v: v.slice(s.offset, end), step: s.step };
    });
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
      const n = s.param.value.size;
      if (!saved || saved.m.length !== n || saved.v.length !== n) {
        throw new RangeError(
          `Cannot restore the optimizer state of "${s.param.name}": the saved state lacks it or has another ` +
            `size; it was saved for another model or method`,
        );
      }
    }
    for (const s of this.#slots) {
      const saved = byName.get(s.param.name)!;
      writeTensor(s.arena.m, saved.m, s.offset);
      writeTensor(s.arena.v, saved.v, s.offset);
      s.step = saved.step;
    }
  }

  /** Zeroes the moments and step count of the tensors that `select` picks (ReLoRA/ReMoRA optimizer reset). */
  reset(select: (t: TrainableTensor) => boolean = () => true): void {
    for (const s of this.#slots) {
      if (!select(s.param)) continue;
      const zeros = new Float32Array(s.param.value.size);
      writeTensor(s.arena.m, zeros, s.offset);
      writeTensor(s.arena.v, zeros, s.offset);
      s.step = 0;
    }
  }

  /** Frees the optimizer state. */
  destroy(): void {
    for (const arena of this.#arenas) {
      arena.m.destroy();
      arena.v.destroy();
    }
    for (const t of [this.#hyper, ...this.#scratch]) t.destroy();
    this.#norm.destroy();
  }
}

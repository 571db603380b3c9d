/**
 * The training loop: each step is one command buffer (forward, backward, clip, AdamW) with no read-back;
 * the loss is read back only every `logEvery` steps, and a NaN/Inf loss stops training with a clear error.
 * With `microBatches` = k > 1 an update is k command buffers, one per micro-batch, whose gradients are summed
 * (gradient accumulation, for batches that do not fit the device at once).
 *
 * @module
 */

import { type Dispatch, encodeDispatches } from "../gpu/kernel.ts";
import { readTensor } from "../gpu/tensor.ts";
import type { LlamaModel } from "../model/llama.ts";
import { buildTrainPlan, type TrainPlan } from "../model/train_plan.ts";
import { GradientAccumulator } from "./accumulate.ts";
import { AdamW, type AdamWConfig, DEFAULT_ADAMW } from "./optimizer.ts";
import { LearningRate, type ScheduleConfig } from "./schedule.ts";

/** Options of {@link Trainer.create}. */
export interface TrainerOptions {
  /** Sequences per micro-batch and tokens per sequence. */
  batch: number;
  /** Micro-batches per update (gradient accumulation); default 1. A step's batch is `batch · microBatches`. */
  microBatches?: number;
  seqLen: number;
  /** Peak learning rate. */
  lr: number;
  /** Learning-rate schedule. */
  schedule: ScheduleConfig;
  /** AdamW hyperparameters (defaults: torch's, clip 1.0). */
  adamw?: Partial<AdamWConfig>;
  /** Read the loss back every this many steps (default 10). */
  logEvery?: number;
}

/** A loss read back from the GPU. */
export interface LossRecord {
  /** Update number (1-based) whose forward produced the loss. */
  step: number;
  /** Mean cross-entropy over counted tokens. */
  loss: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  /** Learning rate of that update. */
  lr: number;
}

/** Thrown when the loss or the gradient norm becomes NaN or infinite; training state is left as it was. */
export class TrainingDivergedError extends Error {
  /** The error's name, for `instanceof`-free checks and messages. */
  override name = "TrainingDivergedError";
}

/**
 * Why training diverged at `step`, or undefined when the loss and gradient norm are finite. A non-finite
 * gradient norm is named as such: a weight or gradient is not finite, whatever the loss.
 */
export function divergence(step: number, loss: number, gradNorm: number, lr: number): string | undefined {
  const fix =
    `the learning rate (now ${lr}), add warmup or gradient clipping, and start again from the last ` +
    `saved checkpoint`;
  if (!Number.isFinite(gradNorm)) {
    return `Training diverged at step ${step}: the gradient norm is ${gradNorm}: a weight or gradient is not ` +
      `finite (the loss is ${loss}). Check the weights for NaN/Inf; if they are finite, lower ${fix}`;
  }
  if (!Number.isFinite(loss)) return `Training diverged at step ${step}: the loss is ${loss}. Lower ${fix}`;
  return undefined;
}

/** Called after each update is queued (ReLoRA/ReMoRA merges and restarts hook in here). */
export type AfterStepHook = (trainer: Trainer, step: number) => Promise<void> | void;

/** Runs training steps on a model. */
export class Trainer {
  /** Updates applied so far. */
  step = 0;
  /** Hooks run after every update. */
  readonly afterStep: AfterStepHook[] = [];
  /** Dispatches of each micro-batch of an update (one list without accumulation). */
  #micro: Dispatch[][] = [];

  private constructor(
    readonly model: LlamaModel,
    public plan: TrainPlan,
    readonly optimizer: AdamW,
    readonly lr: LearningRate,
    readonly logEvery: number,
    readonly accumulator?: GradientAccumulator,
  ) {}

  /** Micro-batches per update. */
  get microBatches(): number {
    return this.accumulator?.microBatches ?? 1;
  }

  /** Builds the step plan and optimizer for the model's trainable tensors. */
  static async create(model: LlamaModel, options: TrainerOptions): Promise<Trainer> {
    const trainable = model.trainable();
    if (trainable.length === 0) throw new RangeError("Cannot train: the model has no trainable tensors");
    const k = options.microBatches ?? 1;
    if (!Number.isInteger(k) || k < 1) {
      throw new RangeError(`Cannot use ${k} micro-batches: use a positive integer`);
    }
    const plan = await buildTrainPlan(model, {
      batch: options.batch,
      seqLen: options.seqLen,
      withBackward: true,
      lossScale: 1 / k,
    });
    const accumulator = k > 1 ? new GradientAccumulator(model.gpu, trainable, k) : undefined;
    const adamw = { ...DEFAULT_ADAMW, ...options.adamw };
    const optimizer = new AdamW(model.gpu, accumulator?.summed() ?? trainable, adamw);
    const trainer = new Trainer(
      model,
      plan,
      optimizer,
      new LearningRate(options.lr, options.schedule),
      options.logEvery ?? 10,
      accumulator,
    );
    await trainer.#buildDispatches();
    return trainer;
  }

  /** Forward and backward of each micro-batch, the accumulation, and the optimizer after the last one. */
  async #buildDispatches(): Promise<void> {
    const step = [...this.plan.forward, ...this.plan.backward];
    const update = await this.optimizer.build();
    const acc = this.accumulator;
    if (!acc) {
      this.#micro = [[...step, ...update]];
      return;
    }
    const first = await acc.build(true, this.plan.stats);
    const rest = await acc.build(false, this.plan.stats);
    this.#micro = Array.from({ length: acc.microBatches }, (_, i) => [
      ...step,
      ...i === 0 ? first : rest,
      ...i === acc.microBatches - 1 ? update : [],
    ]);
  }

  /**
   * Queues one update on a batch (adapters' input dropout draws this update's masks). Every `logEvery`
   * updates (and when `readLoss` is set) it waits for the GPU and returns the loss of this update.
   *
   * @throws {TrainingDivergedError} when the loss or gradient norm read back is NaN or infinite.
   */
  async trainStep(
    inputIds: Uint32Array,
    labels: Int32Array,
    readLoss = false,
  ): Promise<LossRecord | undefined> {
    const update = this.step + 1;
    const k = this.microBatches;
    const size = this.plan.batch * this.plan.seqLen;
    if (inputIds.length !== k * size || labels.length !== k * size) {
      throw new RangeError(
        `Cannot train on ${inputIds.length} ids: a step takes ${k} micro-batch(es) of ` +
          `${this.plan.batch}×${this.plan.seqLen} tokens`,
      );
    }
    const lr = this.lr.at(update);
    this.optimizer.prepare(lr);
    const { device } = this.model.gpu;
    for (let i = 0; i < k; i++) {
      // Writes are queued after the previous submit, so each micro-batch sees its own data.
      this.plan.writeBatch(
        inputIds.subarray(i * size, (i + 1) * size),
        labels.subarray(i * size, (i + 1) * size),
      );
      this.model.setDropoutStep((update - 1) * k + i + 1);
      const encoder = device.createCommandEncoder();
      encodeDispatches(encoder, this.#micro[i]!);
      device.queue.submit([encoder.finish()]);
    }
    this.step = update;
    let record: LossRecord | undefined;
    if (readLoss || update % this.logEvery === 0) record = await this.readLoss(lr);
    for (const hook of this.afterStep) await hook(this, update);
    return record;
  }

  /** Waits for the GPU and reads the loss and gradient norm of the last update. */
  async readLoss(lr: number = this.lr.at(this.step)): Promise<LossRecord> {
    const [stats, norm] = await Promise.all([
      readTensor(this.accumulator?.lossSum ?? this.plan.stats),
      readTensor(this.optimizer.gradNormTensor),
    ]);
    const loss = stats[0]!, gradNorm = norm[0]!;
    const diverged = divergence(this.step, loss, gradNorm, lr);
    if (diverged) throw new TrainingDivergedError(diverged);
    return { step: this.step, loss, gradNorm, lr };
  }

  /** Rebuilds the step's dispatches (after an adapter changed its kernels, e.g. ReMoRA's grouping). */
  async rebuild(): Promise<void> {
    const { batch, seqLen } = this.plan;
    this.plan.destroy();
    this.plan = await buildTrainPlan(this.model, {
      batch,
      seqLen,
      withBackward: true,
      lossScale: 1 / this.microBatches,
    });
    await this.#buildDispatches();
  }

  /** Frees the plan and optimizer (not the model). */
  destroy(): void {
    this.plan.destroy();
    this.optimizer.destroy();
    this.accumulator?.destroy();
  }
}

/**
 * The training loop: each step is one command buffer (forward, backward, clip, AdamW) with no read-back;
 * the loss is read back only every `logEvery` steps, and a NaN/Inf loss stops training with a clear error.
 *
 * @module
 */

import { type Dispatch, encodeDispatches } from "../gpu/kernel.ts";
import { readTensor } from "../gpu/tensor.ts";
import type { LlamaModel } from "../model/llama.ts";
import { buildTrainPlan, type TrainPlan } from "../model/train_plan.ts";
import { AdamW, type AdamWConfig, DEFAULT_ADAMW } from "./optimizer.ts";
import { LearningRate, type ScheduleConfig } from "./schedule.ts";

/** Options of {@link Trainer.create}. */
export interface TrainerOptions {
  /** Sequences per step and tokens per sequence. */
  batch: number;
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

/** Thrown when the loss becomes NaN or infinite; training state is left as it was. */
export class TrainingDivergedError extends Error {
  override name = "TrainingDivergedError";
}

/** Called after each update is queued (ReLoRA/ReMoRA merges and restarts hook in here). */
export type AfterStepHook = (trainer: Trainer, step: number) => Promise<void> | void;

/** Runs training steps on a model. */
export class Trainer {
  /** Updates applied so far. */
  step = 0;
  /** Hooks run after every update. */
  readonly afterStep: AfterStepHook[] = [];
  #dispatches: Dispatch[] = [];

  private constructor(
    readonly model: LlamaModel,
    public plan: TrainPlan,
    readonly optimizer: AdamW,
    readonly lr: LearningRate,
    readonly logEvery: number,
    readonly tokensPerStep: number,
  ) {}

  /** Builds the step plan and optimizer for the model's trainable tensors. */
  static async create(model: LlamaModel, options: TrainerOptions): Promise<Trainer> {
    const trainable = model.trainable();
    if (trainable.length === 0) throw new RangeError("Cannot train: the model has no trainable tensors");
    const plan = await buildTrainPlan(model, {
      batch: options.batch,
      seqLen: options.seqLen,
      withBackward: true,
    });
    const optimizer = new AdamW(model.gpu, trainable, { ...DEFAULT_ADAMW, ...options.adamw });
    const trainer = new Trainer(
      model,
      plan,
      optimizer,
      new LearningRate(options.lr, options.schedule),
      options.logEvery ?? 10,
      options.batch * options.seqLen,
    );
    trainer.#dispatches = [...plan.forward, ...plan.backward, ...await optimizer.build()];
    return trainer;
  }

  /**
   * Queues one update on a batch (adapters' input dropout draws this update's masks). Every `logEvery`
   * updates (and when `readLoss` is set) it waits for the GPU and returns the loss of this update.
   *
   * @throws {TrainingDivergedError} when the loss read back is NaN or infinite.
   */
  async trainStep(
    inputIds: Uint32Array,
    labels: Int32Array,
    readLoss = false,
  ): Promise<LossRecord | undefined> {
    const update = this.step + 1;
    this.plan.writeBatch(inputIds, labels);
    const lr = this.lr.at(update);
    this.optimizer.prepare(lr);
    this.model.setDropoutStep(update);
    const { device } = this.model.gpu;
    const encoder = device.createCommandEncoder();
    encodeDispatches(encoder, this.#dispatches);
    device.queue.submit([encoder.finish()]);
    this.step = update;
    let record: LossRecord | undefined;
    if (readLoss || update % this.logEvery === 0) record = await this.readLoss(lr);
    for (const hook of this.afterStep) await hook(this, update);
    return record;
  }

  /** Waits for the GPU and reads the loss and gradient norm of the last update. */
  async readLoss(lr: number = this.lr.at(this.step)): Promise<LossRecord> {
    const [stats, norm] = await Promise.all([
      readTensor(this.plan.stats),
      readTensor(this.optimizer.gradNormTensor),
    ]);
    const loss = stats[0]!;
    if (!Number.isFinite(loss)) {
      throw new TrainingDivergedError(
        `Training diverged at step ${this.step}: the loss is ${loss}. Lower the learning rate (now ${lr}), ` +
          `add warmup or gradient clipping, and start again from the last saved checkpoint`,
      );
    }
    return { step: this.step, loss, gradNorm: norm[0]!, lr };
  }

  /** Rebuilds the step's dispatches (after an adapter changed its kernels, e.g. ReMoRA's grouping). */
  async rebuild(): Promise<void> {
    const { batch, seqLen } = this.plan;
    this.plan.destroy();
    this.plan = await buildTrainPlan(this.model, { batch, seqLen, withBackward: true });
    this.#dispatches = [...this.plan.forward, ...this.plan.backward, ...await this.optimizer.build()];
  }

  /** Frees the plan and optimizer (not the model). */
  destroy(): void {
    this.plan.destroy();
    this.optimizer.destroy();
  }
}

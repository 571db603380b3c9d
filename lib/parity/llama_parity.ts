/**
 * Parity of the WebGPU LLaMA with a PyTorch float64 reference case: a model directory (`config.json`,
 * `model.safetensors`) and its `case.safetensors` with `input_ids`, `labels`, `logits`, `loss`,
 * `grad.<param>` for every parameter, and a 5-step AdamW trajectory (`adamw.loss_trajectory`,
 * `adamw.after5.<param>`; hyperparameters in the file's `__metadata__.adamw`).
 *
 * Tolerances (float32 on the GPU against float64), about 10× the errors measured on the golden tiny model:
 * logits and loss go through a few dozen float32 ops (measured 4e-7 of the logit scale), so 1e-5; gradients
 * through twice as many with cancellations in sums (measured ≤1.1e-6 of each gradient's scale), so 2e-5; the
 * AdamW trajectory amplifies gradient rounding where v is tiny (m/√v is a ratio of small numbers; measured
 * ≤8e-6 of each tensor's scale after 5 steps), so 1e-4.
 *
 * @module
 */

import type { Gpu } from "../gpu/device.ts";
import { runDispatches } from "../gpu/kernel.ts";
import { readTensor } from "../gpu/tensor.ts";
import { readSafetensors, type SafetensorsFile } from "../io/safetensors.ts";
import { loadCheckpoint } from "../model/checkpoint.ts";
import { LlamaModel } from "../model/llama.ts";
import { buildTrainPlan } from "../model/train_plan.ts";
import { Trainer } from "../train/trainer.ts";
import { compareTrajectory, compareValues, type ParityLine, type ParityTolerance } from "./compare.ts";

/** Tolerance of the logits and the loss (and the loss trajectory) against the float64 reference. */
export const LOGITS_TOL: ParityTolerance = { atol: 1e-5, rtol: 1e-5 };
/** Tolerance of every parameter's gradient against the float64 reference, looser than the logits'. */
export const GRAD_TOL: ParityTolerance = { atol: 2e-5, rtol: 1e-4 };

/** AdamW hyperparameters as the reference case's metadata records them. */
export interface CaseAdamW {
  /** Learning rate, constant over the trajectory. */
  lr: number;
  /** Decay rates of the first and second moments. */
  betas: [number, number];
  /** Added to the root of the second moment. */
  eps: number;
  /** Decoupled weight decay. */
  weight_decay: number;
  /** Optimizer steps of the trajectory. */
  steps: number;
}

/** Reads `__metadata__.adamw` of a case file, with a clear error when it is missing or malformed. */
export function caseAdamW(file: SafetensorsFile): CaseAdamW {
  const raw = file.metadata.adamw;
  if (!raw) {
    throw new SyntaxError(`Case "${file.source}" has no "adamw" metadata; re-export it with the trajectory`);
  }
  let h: CaseAdamW;
  try {
    h = JSON.parse(raw);
  } catch (error) {
    throw new SyntaxError(
      `Case "${file.source}": its "adamw" metadata is not valid JSON (${
        (error as Error).message
      }); re-export it`,
    );
  }
  if (typeof h !== "object" || h === null) {
    throw new SyntaxError(`Case "${file.source}": its "adamw" metadata is not an object; re-export it`);
  }
  for (const key of ["lr", "eps", "weight_decay", "steps"] as const) {
    if (typeof h[key] !== "number") {
      throw new SyntaxError(
        `Case "${file.source}": adamw metadata field "${key}" is missing or not a number`,
      );
    }
  }
  return h;
}

/** The batch of a case: `input_ids` and `labels` (batch, seqLen). */
export function caseBatch(file: SafetensorsFile): {
  batch: number;
  seqLen: number;
  inputIds: Uint32Array;
  labels: Int32Array;
} {
  const shape = file.shape("input_ids");
  if (shape.length !== 2) throw new RangeError(`Case "${file.source}": input_ids must be (batch, seqLen)`);
  return {
    batch: shape[0]!,
    seqLen: shape[1]!,
    inputIds: new Uint32Array(file.int("input_ids")),
    labels: file.int("labels"),
  };
}

/** Runs every comparison of a full-model case and returns one line per quantity. */
export async function llamaParity(gpu: Gpu, dir: string): Promise<ParityLine[]> {
  const { config, weights } = await loadCheckpoint(dir);
  const ref = await readSafetensors(`${dir}/case.safetensors`);
  const { batch, seqLen, inputIds, labels } = caseBatch(ref);
  const model = LlamaModel.create(gpu, config, weights, { trainBase: true });
  const lines: ParityLine[] = [];
  try {
    const plan = await buildTrainPlan(model, { batch, seqLen, withBackward: true });
    plan.writeBatch(inputIds, labels);
    await runDispatches(gpu, [...plan.forward, ...plan.backward]);
    lines.push(compareValues("logits", await readTensor(plan.logits), ref.f64("logits"), LOGITS_TOL));
    lines.push(compareValues("loss", [(await readTensor(plan.stats))[0]!], ref.f64("loss"), LOGITS_TOL));
    for (const t of model.trainable()) {
      lines.push(
        compareValues(`grad.${t.name}`, await readTensor(t.grad), ref.f64(`grad.${t.name}`), GRAD_TOL),
      );
    }
    plan.destroy();
    lines.push(...await trajectoryParity(model, ref, { batch, seqLen, inputIds, labels }, "adamw.after5."));
  } finally {
    model.destroy();
  }
  return lines;
}

/**
 * Trains the model's trainable tensors for the case's AdamW steps on its batch (constant learning rate, no
 * clipping, as the reference) and compares the loss trajectory and, by the trajectory rule
 * (`compareTrajectory`), the tensors after the last step.
 */
export async function trajectoryParity(
  model: LlamaModel,
  ref: SafetensorsFile,
  data: { batch: number; seqLen: number; inputIds: Uint32Array; labels: Int32Array },
  afterPrefix: string,
  refName: (name: string) => string = (name) => name,
): Promise<ParityLine[]> {
  const h = caseAdamW(ref);
  const trainer = await Trainer.create(model, {
    batch: data.batch,
    seqLen: data.seqLen,
    lr: h.lr,
    schedule: { kind: "constant", warmupSteps: 0, totalSteps: h.steps },
    adamw: {
      beta1: h.betas[0],
      beta2: h.betas[1],
      eps: h.eps,
      weightDecay: h.weight_decay,
      maxGradNorm: Infinity,
    },
  });
  try {
    const initial = new Map<string, Float32Array>();
    for (const t of model.trainable()) initial.set(t.name, await readTensor(t.value));
    const losses: number[] = [];
    for (let s = 0; s < h.steps; s++) {
      losses.push((await trainer.trainStep(data.inputIds, data.labels, true))!.loss);
    }
    const lines = [
      compareValues("adamw.loss_trajectory", losses, ref.f64("adamw.loss_trajectory"), LOGITS_TOL),
    ];
    for (const t of model.trainable()) {
      const name = `${afterPrefix}${refName(t.name)}`;
      const trajectory = { initial: initial.get(t.name)!, lr: h.lr, steps: h.steps };
      lines.push(compareTrajectory(name, await readTensor(t.value), ref.f64(name), trajectory));
    }
    return lines;
  } finally {
    trainer.destroy();
  }
}

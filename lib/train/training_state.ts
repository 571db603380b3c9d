/**
 * A resumable training state: everything a run's next update depends on, so that training k updates, saving,
 * and resuming for the remaining N − k gives bit for bit the weights of N updates straight.
 *
 * A state folder holds `state.safetensors` (every base weight, which merge-and-restart methods change, every
 * other trainable tensor, and AdamW's two moments of each) and `state.json` (the update count, the data
 * position, each tensor's optimizer step count, the learning rate's restart state, and the caller's own
 * settings of the run). Both are written atomically, the JSON last, so a folder with a `state.json` is whole.
 *
 * @module
 */

import { join } from "node:path";
import { readTensor, writeTensor } from "../gpu/tensor.ts";
import { readSafetensors, type TensorToWrite, writeFileAtomic, writeSafetensors } from "../io/safetensors.ts";
import { llamaParameterShapes } from "../model/checkpoint.ts";
import type { LearningRateState } from "./schedule.ts";
import type { Trainer } from "./trainer.ts";

const TENSORS_FILE = "state.safetensors";
const STATE_FILE = "state.json";
const FORMAT = 1;

/** The JSON part of a state; `run` is the caller's description of the run (its flags). */
export interface TrainingStateInfo<Run> {
  /** Version of this layout. */
  format: number;
  /** Updates applied. */
  step: number;
  /** Batches drawn from the data (the next batch's position). */
  dataPosition: number;
  /** Each trainable tensor's optimizer step count, by name. */
  momentSteps: Record<string, number>;
  /** The learning rate's restart state. */
  learningRate: LearningRateState;
  /** The caller's settings of the run. */
  run: Run;
}

/** Saves the trainer's state (its model, optimizer and rate) and `run` to `dir`, created if needed. */
export async function saveTrainingState<Run>(
  dir: string,
  trainer: Trainer,
  dataPosition: number,
  run: Run,
): Promise<void> {
  const { model } = trainer;
  const tensors: Record<string, TensorToWrite> = {};
  const baseNames = new Set<string>();
  for (const [name, data] of await model.readWeights()) {
    tensors[`base.${name}`] = { shape: [data.length], data };
    baseNames.add(name);
  }
  for (const t of model.trainable()) {
    if (!baseNames.has(t.name)) {
      tensors[`param.${t.name}`] = { shape: [t.value.size], data: await readTensor(t.value) };
    }
  }
  const momentSteps: Record<string, number> = {};
  for (const s of await trainer.optimizer.readState()) {
    tensors[`adam.m.${s.name}`] = { shape: [s.m.length], data: s.m };
    tensors[`adam.v.${s.name}`] = { shape: [s.v.length], data: s.v };
    momentSteps[s.name] = s.step;
  }
  const info: TrainingStateInfo<Run> = {
    format: FORMAT,
    step: trainer.step,
    dataPosition,
    momentSteps,
    learningRate: trainer.lr.state,
    run,
  };
  await Deno.mkdir(dir, { recursive: true });
  await writeSafetensors(join(dir, TENSORS_FILE), tensors);
  await writeFileAtomic(
    join(dir, STATE_FILE),
    new TextEncoder().encode(JSON.stringify(info, null, 2) + "\n"),
  );
}

/**
 * Reads the JSON part of the state in `dir` (to rebuild the run before restoring its tensors).
 *
 * @throws {Deno.errors.NotFound} when `dir` holds no state, saying what to pass instead.
 */
export async function readTrainingStateInfo<Run>(dir: string): Promise<TrainingStateInfo<Run>> {
  const path = join(dir, STATE_FILE);
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    throw new Deno.errors.NotFound(
      `No training state "${path}": resume from a folder a run saved its state in (its --out/state)`,
    );
  }
  const info = JSON.parse(text) as TrainingStateInfo<Run>;
  if (info.format !== FORMAT) {
    throw new RangeError(`Training state "${path}" has format ${info.format}; this version reads ${FORMAT}`);
  }
  return info;
}

/**
 * Restores the tensors and counters of the state in `dir` into a trainer built for the same run: base
 * weights, trainable tensors, AdamW moments and step counts, the update count and the learning rate.
 *
 * @throws {RangeError} naming a tensor the state lacks or holds with another size.
 */
export async function restoreTrainingState<Run>(
  dir: string,
  trainer: Trainer,
  info: TrainingStateInfo<Run>,
): Promise<void> {
  const file = await readSafetensors(join(dir, TENSORS_FILE));
  const read = (name: string, size: number): Float32Array<ArrayBuffer> => {
    if (!file.has(name) || file.shape(name)[0] !== size) {
      throw new RangeError(
        `Training state "${file.source}" lacks "${name}" or holds it with another size; it was saved for ` +
          `another model or method`,
      );
    }
    return file.f32(name);
  };
  const { model } = trainer;
  const baseNames = new Set<string>();
  for (const { name } of llamaParameterShapes(model.config)) {
    model.writeWeight(name, read(`base.${name}`, model.weight(name).size));
    baseNames.add(name);
  }
  for (const t of model.trainable()) {
    if (!baseNames.has(t.name)) writeTensor(t.value, read(`param.${t.name}`, t.value.size));
  }
  trainer.optimizer.writeState(
    model.trainable().map((t) => ({
      name: t.name,
      m: read(`adam.m.${t.name}`, t.value.size),
      v: read(`adam.v.${t.name}`, t.value.size),
      step: info.momentSteps[t.name] ?? 0,
    })),
  );
  trainer.step = info.step;
  trainer.lr.state = info.learningRate;
}

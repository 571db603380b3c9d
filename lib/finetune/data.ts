/**
 * A task's data, from its analog or, with `--data DIR`, from the real dataset files
 * (`lib/finetune/readers.ts`). The analogs are drawn with one fixed data seed, so every run of a task (every
 * method, rank and seed) trains and is scored on the same examples; a run's seed changes its initialization,
 * dropout and batch order only.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { join } from "node:path";
import { domainData, economyDocuments, licenceDocuments } from "./domain_analog.ts";
import { clozeItems, vocabularyByLength } from "./cloze.ts";
import { instructionAnalog } from "./instruction_analog.ts";
import { mathAnalog } from "./math_analog.ts";
import type { FinetunePreset } from "./presets.ts";
import { readMathTest, readMathTrain, readMmlu, readPlainText, readTuluChat } from "./readers.ts";
import { finetuneTask, type TaskData } from "./tasks.ts";

/** The seed of the analogs' data (not a run seed). */
export const DATA_SEED = 0;

/** Characters (tokens, for the byte tokenizer) of text before a cloze blank. */
const CLOZE_CONTEXT = 96;

/** The analog data of a task. */
async function analogData(task: string, preset: FinetunePreset): Promise<TaskData> {
  const { sizes } = preset;
  const cloze = {
    count: sizes.domain.cloze,
    perDocument: sizes.domain.clozePerDocument,
    contextChars: CLOZE_CONTEXT,
  };
  switch (finetuneTask(task).name) {
    case "instruction":
      return { family: "instruction", ...await instructionAnalog(sizes.instruction, DATA_SEED) };
    case "math":
      return { family: "math", ...mathAnalog(sizes.math, DATA_SEED) };
    case "biomed":
      return { family: "domain", ...domainData(licenceDocuments(), sizes.domain.heldOut, cloze, DATA_SEED) };
    default:
      return {
        family: "domain",
        ...domainData(await economyDocuments(), sizes.domain.heldOut, cloze, DATA_SEED),
      };
  }
}

/** The real data of a task under `dir` (the layout of `lib/finetune/readers.ts`). */
async function realData(task: string, dir: string, preset: FinetunePreset): Promise<TaskData> {
  const info = finetuneTask(task);
  const at = join(dir, task);
  if (info.family === "instruction") {
    return {
      family: "instruction",
      train: await readTuluChat(join(at, "train.jsonl")),
      ...await readMmlu(join(at, "mmlu")),
    };
  }
  if (info.family === "math") {
    return {
      family: "math",
      train: await readMathTrain(join(at, "train.jsonl")),
      tiers: [
        { name: "gsm8k", items: await readMathTest(join(at, "gsm8k.jsonl")) },
        { name: "math", items: await readMathTest(join(at, "math.jsonl")) },
      ],
    };
  }
  const train = await readPlainText(join(at, "train.txt"));
  const heldOut = await readPlainText(join(at, "test.txt"));
  const cloze = clozeItems(heldOut, vocabularyByLength(train), {
    count: preset.sizes.domain.cloze,
    perDocument: preset.sizes.domain.clozePerDocument,
    contextChars: CLOZE_CONTEXT,
    seed: DATA_SEED,
  });
  return { family: "domain", train, heldOut, cloze };
}

/** A task's data: real under `dataDir` when given, else its analog. */
export function loadTaskData(task: string, preset: FinetunePreset, dataDir?: string): Promise<TaskData> {
  return dataDir === undefined ? analogData(task, preset) : realData(task, dataDir, preset);
}

/**
 * A digest of everything a scored run's record depends on beyond its id's other parts: the task's data as
 * loaded (training set and held-out items) and the preset's scoring sizes. It goes in the id of every scored
 * run (`lib/finetune/experiment.ts`), so a journal never hands back a record scored on other items: a resized
 * analog, an edited `--data` file, a changed perplexity sample. The first 12 hex digits of SHA-256.
 */
export function taskDataDigest(data: TaskData, preset: FinetunePreset): string {
  const scoring = [preset.domainSeqLen, preset.perplexityBatches, preset.evalBatch];
  return createHash("sha256").update(JSON.stringify([data, scoring])).digest("hex").slice(0, 12);
}

/**
 * The saved learning-rate search of a suite's preset, `<out>/lr-search-<suite>-<preset>.json`: every search
 * record, from which the chosen rates follow. A bench reuses it and searches only the rates it lacks; the
 * committed one is how a quick bench skips the search. One reader and writer for every suite.
 *
 * @module
 */

import { join } from "node:path";
import { readTextIfExists } from "../harness/results.ts";
import { writeFileAtomic } from "../io/safetensors.ts";

/** What a saved learning-rate search file holds: its schema version, preset and search records. */
export interface SearchFile<R> {
  schemaVersion: 1;
  /** The preset the search belongs to. */
  preset: string;
  /** Every search record. */
  records: R[];
}

/** What a bench tells the user to do with a search file it cannot read. */
export const SEARCH_FILE_FIX = "delete it or run with --lr-search to search again";

/** Path of the saved search of `suite` (`uuid`, `pretrain`, `finetune`) at `preset`. */
export function searchFilePath(outDir: string, suite: string, preset: string): string {
  return join(outDir, `lr-search-${suite}-${preset}.json`);
}

/** Saves the search records of a preset at `path` (atomically). */
export async function saveSearchFile<R>(path: string, preset: string, records: R[]): Promise<void> {
  const file: SearchFile<R> = { schemaVersion: 1, preset, records };
  await writeFileAtomic(path, new TextEncoder().encode(`${JSON.stringify(file, null, 2)}\n`));
}

/**
 * The search records saved at `path` (none when the file is absent).
 *
 * @throws {SyntaxError} naming the file, with `fix` as what to do, when it is not a search file.
 */
export async function readSearchFile<R>(path: string, fix = SEARCH_FILE_FIX): Promise<R[]> {
  const text = await readTextIfExists(path);
  if (text === undefined) return [];
  let file: Partial<SearchFile<R>>;
  try {
    file = JSON.parse(text);
  } catch (error) {
    throw new SyntaxError(
      `Cannot read the learning-rate search "${path}": ${(error as Error).message}; ${fix}`,
    );
  }
  if (file.schemaVersion !== 1 || !Array.isArray(file.records)) {
    throw new SyntaxError(
      `Cannot read the learning-rate search "${path}": expected schemaVersion 1 with records; ${fix}`,
    );
  }
  return file.records;
}

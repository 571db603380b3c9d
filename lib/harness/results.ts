/**
 * An append-only JSON-lines results store: one record a line, each write fsynced, so a crash loses at
 * most the line being written and a later run can resume from what is there. Reading skips a corrupt
 * or truncated line with a warning naming its line number and keeps every other record.
 *
 * @module
 */

import { dirname } from "node:path";

/**
 * Appends `record` as one JSON line to `path` (creating the file and its directory) and fsyncs it.
 * When a crash left the last line unterminated, the record starts on a new line so it stays readable.
 *
 * @example
 * ```ts
 * await appendResult("reports/results.jsonl", { suite: "kernels", name: "matmul nt 256", bestMs: 3.1 });
 * ```
 */
export async function appendResult(path: string, record: unknown): Promise<void> {
  const line = JSON.stringify(record);
  if (line === undefined) throw new TypeError(`Cannot append result to "${path}": it has no JSON form`);
  await Deno.mkdir(dirname(path), { recursive: true });
  const file = await Deno.open(path, { read: true, append: true, create: true });
  try {
    const prefix = (await endsWithNewline(file)) ? "" : "\n";
    const bytes = new TextEncoder().encode(`${prefix}${line}\n`);
    let written = 0;
    while (written < bytes.length) written += await file.write(bytes.subarray(written));
    await file.sync();
  } finally {
    file.close();
  }
}

async function endsWithNewline(file: Deno.FsFile): Promise<boolean> {
  const size = (await file.stat()).size;
  if (size === 0) return true;
  await file.seek(size - 1, Deno.SeekMode.Start);
  const last = new Uint8Array(1);
  await file.read(last);
  return last[0] === 0x0a;
}

/** The text of `path`, or undefined when the file does not exist (other errors are thrown). */
export async function readTextIfExists(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/** Options of {@link readResults}. */
export interface ReadResultsOptions {
  /** Receives one message per skipped line; `console.warn` by default. */
  warn?: (message: string) => void;
  /** Keeps only lines whose JSON passes; others are skipped with a warning saying they are not `kind`. */
  accept?: { test: (value: unknown) => boolean; kind: string };
}

/**
 * Reads every record of `path` in order; a missing file reads as no records. A line that is not valid
 * JSON (say, truncated by a crash) is skipped with a warning naming the file and its 1-based line number.
 *
 * @example
 * ```ts
 * const records = await readResults<{ name: string }>("reports/results.jsonl");
 * ```
 */
export async function readResults<T = unknown>(
  path: string,
  options: ReadResultsOptions = {},
): Promise<T[]> {
  const warn = options.warn ?? console.warn;
  const text = await readTextIfExists(path);
  if (text === undefined) return [];
  const records: T[] = [];
  text.split("\n").forEach((line, index) => {
    if (line.trim() === "") return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      warn(
        `Skipping line ${index + 1} of "${path}": it is not valid JSON (${(error as Error).message}); ` +
          `the other records are kept, delete the line to silence this warning`,
      );
      return;
    }
    if (options.accept && !options.accept.test(value)) {
      warn(
        `Skipping line ${index + 1} of "${path}": it is not ${options.accept.kind}; ` +
          `the other records are kept, delete the line to silence this warning`,
      );
      return;
    }
    records.push(value as T);
  });
  return records;
}

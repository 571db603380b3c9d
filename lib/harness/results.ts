/**
 * An append-only JSON-lines results store: one record a line, each write fsynced, so a crash loses at
 * most the line being written and a later run can resume from what is there. Reading skips a corrupt
 * or truncated line with a warning naming its line number and keeps every other record.
 *
 * @module
 */

import { dirname } from "node:path";
import { writeFileAtomic } from "../io/safetensors.ts";

/**
 * A results or report file that could not be written (disk full, read-only or unwritable folder): the
 * message names the file, says why in words and what to do. The command-line wrapper prints it as one
 * `error:` line.
 */
export class OutputWriteError extends Error {
  /** The OS error code, such as `ENOSPC` or `EROFS`. */
  readonly code: string;

  /** Wraps `cause`, an error the OS gave while writing `path`. */
  constructor(path: string, cause: Error & { code?: string }, kept: string) {
    const code = cause.code ?? cause.name;
    super(`Cannot write "${path}": ${OS_REASONS[code] ?? cause.message}; ${kept}`, { cause });
    this.name = "OutputWriteError";
    this.code = code;
  }
}

const OS_REASONS: Record<string, string> = {
  ENOSPC: "the disk is full (ENOSPC)",
  EDQUOT: "the disk quota is used up (EDQUOT)",
  EROFS: "the file system is read-only (EROFS)",
  EACCES: "permission denied (EACCES)",
  EPERM: "permission denied (EPERM)",
  ENOTDIR: "a part of the path is a file, not a folder (ENOTDIR)",
  EISDIR: "it is a folder (EISDIR)",
  EEXIST: "a file of that name is in the way of the folder (EEXIST)",
};

/**
 * `error` as an {@link OutputWriteError} naming `path` when it is an OS error (one with a `code`, such as
 * ENOSPC); any other error unchanged. `kept` says what survives and what to do.
 */
export function asOutputWriteError(path: string, error: unknown, kept: string): unknown {
  if (!(error instanceof Error) || typeof (error as { code?: unknown }).code !== "string") return error;
  return new OutputWriteError(path, error, kept);
}

/** Runs `write`, turning an OS error into an {@link OutputWriteError} naming `path`. */
async function explainingOsErrors<T>(path: string, kept: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    throw asOutputWriteError(path, error, kept);
  }
}

/**
 * Writes `bytes` to `path` atomically (a temporary file in the same folder, fsynced, then renamed), creating
 * the folder first.
 *
 * @throws {OutputWriteError} when the OS refuses (disk full, read-only): the previous file is left intact.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const outDir = await Deno.makeTempDir();
 * await writeOutputFile(`${outDir}/tables/kernels-matmul.csv`, new TextEncoder().encode("op,ms\n"));
 * assert.equal(await Deno.readTextFile(`${outDir}/tables/kernels-matmul.csv`), "op,ms\n");
 * await Deno.remove(outDir, { recursive: true });
 * ```
 */
export async function writeOutputFile(path: string, bytes: Uint8Array): Promise<void> {
  await explainingOsErrors(
    path,
    "a previous version of the file, if any, is left as it was; free some space or make the folder " +
      "writable, or pass another --out",
    async () => {
      await Deno.mkdir(dirname(path), { recursive: true });
      await writeFileAtomic(path, bytes);
    },
  );
}

/**
 * Appends `record` as one JSON line to `path` (creating the file and its directory) and fsyncs it.
 * When a crash left the last line unterminated, the record starts on a new line so it stays readable.
 *
 * @throws {OutputWriteError} when the OS refuses (disk full, read-only): the lines before are kept.
 * @example
 * ```ts
 * const outDir = await Deno.makeTempDir();
 * await appendResult(`${outDir}/results.jsonl`, { suite: "kernels", name: "matmul nt 256", bestMs: 3.1 });
 * await Deno.remove(outDir, { recursive: true });
 * ```
 */
export async function appendResult(path: string, record: unknown): Promise<void> {
  const line = JSON.stringify(record);
  if (line === undefined) throw new TypeError(`Cannot append result to "${path}": it has no JSON form`);
  const kept =
    "the lines before are kept; free some space or make the folder writable, or pass another --out";
  await explainingOsErrors(path, kept, async () => {
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
  });
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
 * import assert from "node:assert/strict";
 *
 * const outDir = await Deno.makeTempDir();
 * await appendResult(`${outDir}/results.jsonl`, { name: "matmul nt 256" });
 * const records = await readResults<{ name: string }>(`${outDir}/results.jsonl`);
 * assert.deepEqual(records, [{ name: "matmul nt 256" }]);
 * await Deno.remove(outDir, { recursive: true });
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

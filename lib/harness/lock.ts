/**
 * A lock on a bench output folder, so two commands never write the same `results.json` and journals (the
 * bench, `deno task report --rebuild` and `--merge` all take it): `<out>/.bench.lock` holds the owner's
 * pid, start time and task, and the owner holds an exclusive `flock` on it
 * until it removes it at the end of the bench. The operating system drops the `flock` when the process
 * dies, so a lock left by a bench that was killed (`kill -9`) is taken over, with a warning.
 *
 * @module
 */

import { join } from "node:path";
import { asOutputWriteError } from "./results.ts";

const NOTHING_WRITTEN = "nothing else was written; pass a writable --out with free space";

/** File name of the lock inside the output folder. */
export const LOCK_FILE = ".bench.lock";

/** What the lock file holds. */
export interface LockOwner {
  pid: number;
  /** When the owner took the lock, ISO 8601. */
  started: string;
  /** What the owner runs, such as `deno task bench`; absent in locks of older versions. */
  task?: string;
}

/** A lock on an output folder that this process holds until it calls `release`. */
export interface BenchLock {
  /** Path of the lock file. */
  path: string;
  /** Removes the lock file and lets go of the lock. */
  release(): Promise<void>;
}

/** Options of {@link acquireBenchLock}. */
export interface AcquireLockOptions {
  /** Receives the warning of a stale lock taken over; `console.warn` by default. */
  warn?: (message: string) => void;
  /** What this process runs, recorded for a refused second taker; `deno task bench` by default. */
  task?: string;
  /** What this process cannot do when refused, as in `Cannot <action> "<dir>"`; `bench into` by default. */
  action?: string;
}

/** The owner recorded in a lock file's text; undefined when it is empty or torn. */
function parseOwner(text: string): LockOwner | undefined {
  try {
    const owner = JSON.parse(text) as Partial<LockOwner>;
    return typeof owner.pid === "number" ? owner as LockOwner : undefined;
  } catch {
    return undefined;
  }
}

const describeOwner = (o: LockOwner | undefined) =>
  o ? `process ${o.pid} (started ${o.started})` : "another process";

const describeTask = (o: LockOwner | undefined) =>
  o?.task ? `running \`${o.task}\` into it` : "writing into it";

/** Whether `path` still names the file open as `file` (a releasing owner may have removed it meanwhile). */
async function stillNamed(file: Deno.FsFile, path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).ino === (await file.stat()).ino;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** Writes this process as the owner of the locked `file`, warning about the stale owner it replaces. */
async function own(file: Deno.FsFile, path: string, options: AcquireLockOptions): Promise<BenchLock> {
  const previous = await Deno.readTextFile(path);
  if (previous.trim() !== "") {
    (options.warn ?? console.warn)(
      `Taking over the lock "${path}": ${describeOwner(parseOwner(previous))} ended without removing it`,
    );
  }
  const owner: LockOwner = {
    pid: Deno.pid,
    started: new Date().toISOString(),
    task: options.task ?? "deno task bench",
  };
  try {
    await file.truncate(0);
    await file.write(new TextEncoder().encode(`${JSON.stringify(owner)}\n`));
  } catch (error) {
    file.close();
    await Deno.remove(path).catch(() => {});
    throw asOutputWriteError(path, error, NOTHING_WRITTEN);
  }
  return {
    path,
    release: async () => {
      await Deno.remove(path);
      file.close();
    },
  };
}

/** Opens (creating) the lock file, naming it and why when the folder cannot be written. */
async function openLockFile(path: string): Promise<Deno.FsFile> {
  try {
    return await Deno.open(path, { read: true, write: true, create: true });
  } catch (error) {
    throw asOutputWriteError(path, error, NOTHING_WRITTEN);
  }
}

/**
 * Takes the lock on `dir` (which must exist).
 *
 * @throws {RangeError} naming the other process and its task when a live one holds it.
 * @throws {OutputWriteError} when the lock file cannot be created (a read-only folder).
 */
export async function acquireBenchLock(dir: string, options: AcquireLockOptions = {}): Promise<BenchLock> {
  const path = join(dir, LOCK_FILE);
  for (;;) {
    const file = await openLockFile(path);
    if (!await file.tryLock(true)) {
      file.close();
      const owner = parseOwner(await Deno.readTextFile(path).catch(() => ""));
      throw new RangeError(
        `Cannot ${options.action ?? "bench into"} "${dir}": ${describeOwner(owner)} is ${
          describeTask(owner)
        } ` +
          `(lock "${path}"); wait for it to finish, or pass another --out`,
      );
    }
    if (await stillNamed(file, path)) return await own(file, path, options);
    file.close();
  }
}

/**
 * Creates `dir` when missing and takes its lock, for a command that writes into it.
 *
 * @throws {RangeError} naming the other process when a live one holds the lock.
 * @throws {OutputWriteError} when the folder cannot be created or written.
 * @example
 * ```ts
 * const outDir = await Deno.makeTempDir();
 * const lock = await lockOutputFolder(outDir, { task: "deno task report --rebuild", action: "rebuild" });
 * try {
 *   await Deno.writeTextFile(`${outDir}/results.json`, "{}");
 * } finally {
 *   await lock.release();
 * }
 * await Deno.remove(outDir, { recursive: true });
 * ```
 */
export async function lockOutputFolder(dir: string, options: AcquireLockOptions = {}): Promise<BenchLock> {
  try {
    await Deno.mkdir(dir, { recursive: true });
  } catch (error) {
    throw asOutputWriteError(dir, error, NOTHING_WRITTEN);
  }
  return await acquireBenchLock(dir, options);
}

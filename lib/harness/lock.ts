/**
 * A lock on a bench output folder, so two benches never write the same `results.json` and journals:
 * `<out>/.bench.lock` holds the owner's pid and start time, and the owner holds an exclusive `flock` on it
 * until it removes it at the end of the bench. The operating system drops the `flock` when the process
 * dies, so a lock left by a bench that was killed (`kill -9`) is taken over, with a warning.
 *
 * @module
 */

import { join } from "node:path";

/** File name of the lock inside the output folder. */
export const LOCK_FILE = ".bench.lock";

/** What the lock file holds. */
export interface LockOwner {
  pid: number;
  /** When the owner took the lock, ISO 8601. */
  started: string;
}

/** A held lock. */
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
async function own(file: Deno.FsFile, path: string, warn: (message: string) => void): Promise<BenchLock> {
  const previous = await Deno.readTextFile(path);
  if (previous.trim() !== "") {
    warn(`Taking over the lock "${path}": ${describeOwner(parseOwner(previous))} ended without removing it`);
  }
  const owner: LockOwner = { pid: Deno.pid, started: new Date().toISOString() };
  await file.truncate(0);
  await file.write(new TextEncoder().encode(`${JSON.stringify(owner)}\n`));
  return {
    path,
    release: async () => {
      await Deno.remove(path);
      file.close();
    },
  };
}

/**
 * Takes the lock on `dir` (which must exist).
 *
 * @throws {RangeError} naming the other process when a live one holds it.
 */
export async function acquireBenchLock(dir: string, options: AcquireLockOptions = {}): Promise<BenchLock> {
  const path = join(dir, LOCK_FILE);
  for (;;) {
    const file = await Deno.open(path, { read: true, write: true, create: true });
    if (!await file.tryLock(true)) {
      file.close();
      const owner = parseOwner(await Deno.readTextFile(path).catch(() => ""));
      throw new RangeError(
        `Cannot bench into "${dir}": ${describeOwner(owner)} is benching into it (lock "${path}"); wait ` +
          `for it to finish, or pass another --out`,
      );
    }
    if (await stillNamed(file, path)) return await own(file, path, options.warn ?? console.warn);
    file.close();
  }
}

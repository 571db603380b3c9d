/**
 * The real entry points in a subprocess, under the faults a user hits: a full disk, a read-only --out, a
 * `kill -9` in the middle of writing results.json, and a second writer on the same --out. Each must end with
 * one `error:` line naming the file (never an `Uncaught` stack trace) and lose nothing that was there.
 *
 * A full disk is a 64 KiB tmpfs when the tests may mount (root), and is also simulated everywhere by failing
 * every write under --out as the OS does (`_full_disk_preload.ts`). A read-only --out is a tmpfs remounted
 * read-only when the tests may mount, otherwise a folder of mode 0555, which binds a non-root user (not root,
 * hence the tmpfs).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { acquireBenchLock } from "../../lib/harness/lock.ts";
import { writeResultsFile } from "../../lib/harness/runner.ts";
import { rebuiltResults } from "../../lib/harness/rebuild.ts";
import type { KernelRecord } from "../../lib/records.ts";
import { BENCH_RUN, deno, REPORT_RUN, TRAIN_RUN } from "../_cli.ts";

const DATE = "2026-02-01T00:00:00.000Z";

function matmul(n: number, padding = ""): KernelRecord & Record<string, unknown> {
  return {
    op: "matmul",
    label: `nt ${n}³`,
    params: { layout: "nt", m: n, n, k: n },
    pass: "forward",
    flops: 2 * n ** 3,
    bytes: 0,
    timing: { meanMs: 1.1, bestMs: 1, repetitions: 8, trialsMs: [1, 1.2] },
    provenance: {
      adapter: "1: llvmpipe",
      softwareAdapter: true,
      commit: "abc1234",
      deno: "2.9.6",
      date: DATE,
    },
    ...padding ? { padding } : {},
  };
}

/** Writes a bench output with kernel records: results.json and its journal, results.jsonl. */
async function writeBenchOutput(dir: string, records: KernelRecord[]): Promise<string> {
  const lines = records.map((record) => JSON.stringify({ date: DATE, suite: "kernels", record }));
  await Deno.writeTextFile(join(dir, "results.jsonl"), `${lines.join("\n")}\n`);
  const path = join(dir, "results.json");
  await writeResultsFile(path, rebuiltResults({ kernels: records }, "fixture"));
  return path;
}

/** `deno ARGS` with `env` added; its exit code and output. */
async function denoWith(args: string[], env: Record<string, string>) {
  const output = await new Deno.Command(Deno.execPath(), { args, env, stdin: "null" }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: output.code, stdout: decode(output.stdout), stderr: decode(output.stderr) };
}

/** Runs `command`; true when it exits 0 (false when it fails or does not exist). */
async function sh(command: string, args: string[]): Promise<boolean> {
  const out = await new Deno.Command(command, { args, stdout: "null", stderr: "null" }).output()
    .catch(() => undefined);
  return out?.success ?? false;
}

/** Mounts a tmpfs of `size` on `dir`; false when this machine does not let the tests mount. */
const mountTmpfs = (dir: string, size: string) =>
  sh("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir]);

async function withTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await body(dir);
  } finally {
    await sh("umount", [dir]);
    await Deno.chmod(dir, 0o755);
    await Deno.remove(dir, { recursive: true });
  }
}

/** Asserts a command failed with one `error:` line matching `message`, without a stack trace. */
function assertUserError(run: { code: number; stdout: string; stderr: string }, message: RegExp): void {
  assert.equal(run.code, 1, run.stdout + run.stderr);
  assert.doesNotMatch(run.stderr, /Uncaught|\bat .*\.ts:\d+/, run.stderr);
  assert.match(run.stderr, message);
}

/** Fills the file system of `dir` with `filler` until a write fails; returns the bytes written. */
async function fillDisk(filler: string): Promise<number> {
  const file = await Deno.open(filler, { write: true, create: true });
  let size = 0;
  try {
    for (;;) size += await file.write(new Uint8Array(4096));
  } catch (error) {
    assert.equal((error as { code?: string }).code, "ENOSPC", String(error));
  } finally {
    file.close();
  }
  return size;
}

/** The leftovers of an atomic write that did not finish. */
async function tempFiles(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) if (entry.name.includes(".tmp-")) names.push(entry.name);
  return names;
}

/** The full-disk checks, on a real 64 KiB tmpfs (`tmpfs`) or with every write under --out failing. */
async function fullDiskCase(dir: string, tmpfs: boolean): Promise<void> {
  if (tmpfs) assert.ok(await mountTmpfs(dir, "64k"), "mount a 64 KiB tmpfs");
  const path = await writeBenchOutput(dir, [matmul(64), matmul(128)]);
  const before = await Deno.readTextFile(path);
  const preload = ["--preload", new URL("./_full_disk_preload.ts", import.meta.url).pathname];
  const run = (args: string[], lockFits = true) =>
    tmpfs ? denoWith(args, {}) : denoWith([args[0]!, ...preload, ...args.slice(1)], {
      MORA_FULL_DISK_DIR: dir,
      ...lockFits ? {} : { MORA_FULL_DISK_LOCK: "1" },
    });
  const filler = join(dir, "filler");
  if (tmpfs) await Deno.truncate(filler, (await fillDisk(filler)) - 4096); // room for the lock only

  const rebuild = await run([...REPORT_RUN, "--rebuild", "--out", dir]);
  assertUserError(rebuild, /error: Cannot write ".*results\.json(\.bak)?": the disk is full \(ENOSPC\)/);
  assert.match(rebuild.stderr, /a previous version of the file, if any, is left as it was; free some space/);
  const report = await run([...REPORT_RUN, "--out", dir]);
  assertUserError(report, /error: Cannot write ".*": the disk is full \(ENOSPC\)/);
  if (tmpfs) await fillDisk(filler); // not even the lock fits
  const bench = await run([...BENCH_RUN, "--suite", "kernels", "--quick", "--out", dir], false);
  assertUserError(bench, /error: Cannot write ".*\.bench\.lock": the disk is full \(ENOSPC\)/);
  assert.doesNotMatch(bench.stdout, /Adapter:/, "it stopped before taking the GPU");

  assert.equal(await Deno.readTextFile(path), before, "results.json is left as it was");
  assert.deepEqual(await tempFiles(dir), [], "no half-written temporary file is left");
}

/** Whether this machine lets the tests mount a tmpfs (root, or a user namespace that may). */
const CAN_MOUNT = await (async () => {
  const dir = await Deno.makeTempDir();
  const mounted = await mountTmpfs(dir, "4k");
  if (mounted) await sh("umount", [dir]);
  await Deno.remove(dir);
  return mounted;
})();

Deno.test({
  name: "a full 64 KiB tmpfs: report, --rebuild and bench stop naming the file; results.json survives",
  ignore: !CAN_MOUNT, // the simulated full disk below runs everywhere
  fn: () => withTempDir((dir) => fullDiskCase(dir, true)),
});

Deno.test("a simulated full disk (every write under --out fails with ENOSPC): the same, everywhere", () =>
  withTempDir((dir) => fullDiskCase(dir, false)));

Deno.test("a read-only --out: report, report --rebuild and bench stop before writing, naming the folder", () =>
  withTempDir(async (dir) => {
    const mounted = await mountTmpfs(dir, "1m");
    const path = await writeBenchOutput(dir, [matmul(64)]);
    const before = await Deno.readTextFile(path);
    if (mounted) assert.ok(await sh("mount", ["-o", "remount,ro", dir]), "remount the tmpfs read-only");
    else await Deno.chmod(dir, 0o555);
    const readOnly = mounted ? /the file system is read-only \(EROFS\)/ : /permission denied \(EACCES\)/;

    const report = await deno([...REPORT_RUN, "--out", dir]);
    assertUserError(report, new RegExp(`error: Cannot write "${dir}/.*": ${readOnly.source}`));
    const rebuild = await deno([...REPORT_RUN, "--rebuild", "--out", dir]);
    assertUserError(rebuild, new RegExp(`error: Cannot write "${dir}/\\.bench\\.lock": ${readOnly.source}`));
    const bench = await deno([...BENCH_RUN, "--suite", "kernels", "--quick", "--out", dir]);
    assertUserError(bench, new RegExp(`error: Cannot write "${dir}/\\.bench\\.lock": ${readOnly.source}`));
    assert.doesNotMatch(bench.stdout, /Adapter:/, "it stopped before taking the GPU");
    assert.equal(await Deno.readTextFile(path), before);
  }));

Deno.test("kill -9 while report --rebuild writes results.json leaves the previous file whole", () =>
  withTempDir(async (dir) => {
    // Records padded to ~40 MB of JSON, so the write lasts long enough to be killed in the middle.
    const padding = "x".repeat(100_000);
    const path = await writeBenchOutput(dir, [matmul(64)]);
    const before = await Deno.readTextFile(path);
    const records = Array.from({ length: 400 }, (_, i) => matmul(64 + i, padding));
    const lines = records.map((record) => JSON.stringify({ date: DATE, suite: "kernels", record }));
    await Deno.writeTextFile(join(dir, "results.jsonl"), `${lines.join("\n")}\n`);

    const watcher = Deno.watchFs(dir, { recursive: false });
    const child = new Deno.Command(Deno.execPath(), {
      args: [...REPORT_RUN, "--rebuild", "--out", dir],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const stderr = new Response(child.stderr).text();
    const writing = (async () => {
      for await (const event of watcher) {
        if (event.paths.some((p) => p.startsWith(`${path}.tmp-`))) return true; // the results write began
      }
      return false;
    })();
    const midWrite = await Promise.race([writing, child.status.then(() => false)]);
    if (midWrite) child.kill("SIGKILL");
    watcher.close();
    const status = await child.status;
    assert.ok(midWrite, `the rebuild ended before writing results.json: ${await stderr}`);
    assert.equal(status.signal, "SIGKILL", "killed in the middle of the write, not after it");

    assert.equal(await Deno.readTextFile(path), before, "the previous results.json is whole");
    const report = await deno([...REPORT_RUN, "--out", dir]);
    assert.equal(report.code, 0, report.stderr);
  }));

Deno.test("report --rebuild and --merge take the bench's lock on --out and name its holder", () =>
  withTempDir(async (dir) => {
    await writeBenchOutput(dir, [matmul(64)]);
    const lock = await acquireBenchLock(dir);
    try {
      const rebuild = await deno([...REPORT_RUN, "--rebuild", "--out", dir]);
      assertUserError(
        rebuild,
        new RegExp(
          `error: Cannot rebuild into "${dir}": process ${Deno.pid} \\(started .*\\) is running ` +
            "`deno task bench` into it .*; wait for it to finish, or pass another --out",
        ),
      );
      const input = await Deno.makeTempDir();
      try {
        await writeBenchOutput(input, [matmul(128)]);
        const merge = await deno([...REPORT_RUN, "--merge", input, "--out", dir]);
        assertUserError(merge, new RegExp(`error: Cannot merge into "${dir}": process ${Deno.pid} `));
      } finally {
        await Deno.remove(input, { recursive: true });
      }
    } finally {
      await lock.release();
    }
    const rebuild = await deno([...REPORT_RUN, "--rebuild", "--out", dir]);
    assert.equal(rebuild.code, 0, rebuild.stderr);
    await assert.rejects(Deno.stat(join(dir, ".bench.lock")), Deno.errors.NotFound, "released at the end");
  }));

Deno.test("train with an unknown corpus source ends with one error line naming it", async () => {
  const out = await Deno.makeTempDir();
  try {
    const train = await deno([...TRAIN_RUN, "--sources", "nope", "--steps", "1", "--out", out]);
    assertUserError(train, /error: Unknown corpus source "nope": use any of "sotu", "brown"/);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

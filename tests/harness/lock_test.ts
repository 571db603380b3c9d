import assert from "node:assert/strict";
import { join } from "node:path";
import { acquireBenchLock, LOCK_FILE } from "../../lib/harness/lock.ts";
import { BENCH_RUN, deno } from "../_cli.ts";

async function withTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("the bench lock holds the owner's pid, refuses a second taker by name, and is removed on release", () =>
  withTempDir(async (dir) => {
    const lock = await acquireBenchLock(dir);
    const owner = JSON.parse(await Deno.readTextFile(join(dir, LOCK_FILE)));
    assert.equal(owner.pid, Deno.pid);
    assert.ok(!Number.isNaN(Date.parse(owner.started)), owner.started);
    await assert.rejects(
      acquireBenchLock(dir),
      new RegExp(
        `Cannot bench into "${dir}": process ${Deno.pid} \\(started ${owner.started}\\) is running ` +
          "`deno task bench` into it",
      ),
    );
    await lock.release();
    await assert.rejects(Deno.stat(lock.path), Deno.errors.NotFound);
    await (await acquireBenchLock(dir)).release(); // free again
  }));

Deno.test("a lock left by a process that ended is taken over with a warning naming it", () =>
  withTempDir(async (dir) => {
    // What `kill -9` leaves: the file, with no process holding its flock.
    const path = join(dir, LOCK_FILE);
    await Deno.writeTextFile(path, JSON.stringify({ pid: 4242, started: "2026-01-01T00:00:00.000Z" }));
    const warnings: string[] = [];
    const lock = await acquireBenchLock(dir, { warn: (w) => warnings.push(w) });
    assert.deepEqual(warnings, [
      `Taking over the lock "${path}": process 4242 (started 2026-01-01T00:00:00.000Z) ended without removing it`,
    ]);
    assert.equal(JSON.parse(await Deno.readTextFile(path)).pid, Deno.pid);
    await lock.release();
  }));

Deno.test("the lock of a bench killed with SIGKILL is taken over", () =>
  withTempDir(async (dir) => {
    const lockModule = new URL("../../lib/harness/lock.ts", import.meta.url).href;
    const code = `const { acquireBenchLock } = await import("${lockModule}");
      await acquireBenchLock(${JSON.stringify(dir)}); console.log("locked"); setInterval(() => {}, 1000);`;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["eval", code],
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    assert.match((await reader.read()).value ?? "", /locked/);
    await assert.rejects(acquireBenchLock(dir), new RegExp(`process ${child.pid} \\(started`));
    child.kill("SIGKILL");
    await child.status;
    await reader.cancel();
    const warnings: string[] = [];
    const lock = await acquireBenchLock(dir, { warn: (w) => warnings.push(w) });
    assert.match(
      warnings.join(),
      new RegExp(`process ${child.pid} \\(started .*\\) ended without removing it`),
    );
    await lock.release();
  }));

Deno.test("a second bench on the same --out refuses, naming the process that holds it", () =>
  withTempDir(async (dir) => {
    const lock = await acquireBenchLock(dir);
    try {
      const bench = await deno([...BENCH_RUN, "--suite", "kernels", "--out", dir]);
      assert.equal(bench.code, 1, bench.stdout + bench.stderr);
      assert.match(
        bench.stderr,
        new RegExp(`error: Cannot bench into "${dir}": process ${Deno.pid} \\(started`),
      );
      assert.match(bench.stderr, /wait for it to finish, or pass another --out/);
      assert.doesNotMatch(bench.stdout, /Adapter:/, "it stopped before taking the GPU");
      assert.equal(JSON.parse(await Deno.readTextFile(lock.path)).pid, Deno.pid, "the lock stays ours");
    } finally {
      await lock.release();
    }
  }));

import assert from "node:assert/strict";
import { join } from "node:path";
import { type MatrixRun, runMatrix } from "../../lib/experiment/matrix.ts";
import type { MatrixRecord } from "../../lib/records.ts";
import type { Gpu } from "../../lib/gpu/device.ts";
import { runSuites } from "../../lib/harness/runner.ts";
import {
  inShard,
  parseShard,
  SHARD_MANIFEST,
  type ShardManifest,
  ShardManifestWriter,
  shardOf,
} from "../../lib/harness/shard.ts";
import type { BenchSuite } from "../../lib/harness/suite.ts";
import { SOFTWARE_ENVIRONMENT } from "../_environment.ts";

const environment = SOFTWARE_ENVIRONMENT;

/** The fake suites never touch the device. */
const noGpu = {} as Gpu;

const IDS = Array.from({ length: 40 }, (_, i) => `tiny|lora|r${i % 4}|seed${i}`);

function runs(executed: string[]): MatrixRun<MatrixRecord>[] {
  return IDS.map((id) => ({
    id,
    label: id,
    execute: () => {
      executed.push(id);
      return Promise.resolve({ id, status: "ok" as const });
    },
  }));
}

async function readManifest(dir: string): Promise<ShardManifest> {
  return JSON.parse(await Deno.readTextFile(join(dir, SHARD_MANIFEST)));
}

Deno.test("--shard takes i/N with 1 ≤ i ≤ N and says what it expects otherwise", () => {
  assert.deepEqual(parseShard("2/4"), { index: 2, count: 4 });
  assert.deepEqual(parseShard("1/1"), { index: 1, count: 1 });
  for (const bad of ["0/4", "5/4", "1/0", "2", "a/b", "-1/3", "1.5/3"]) {
    assert.throws(
      () => parseShard(bad),
      (e: unknown) =>
        e instanceof RangeError && e.message.includes(`Cannot use --shard "${bad}": expected i/N`),
    );
  }
});

Deno.test("every key belongs to exactly one shard, the same one on every machine", () => {
  // Pinned: a changed hash would move runs between the shards of a sweep already under way.
  assert.deepEqual(["kernels", "training", "uuid", "b"].map((k) => shardOf(k, 4)), [3, 3, 1, 4]);
  for (const count of [1, 2, 3, 7]) {
    const sizes = new Array(count).fill(0);
    for (const id of IDS) {
      const owners = Array.from({ length: count }, (_, i) => i + 1).filter((index) =>
        inShard(id, { index, count })
      );
      assert.deepEqual(owners, [shardOf(id, count)]);
      sizes[owners[0]! - 1]++;
    }
    // 40 runs spread over the shards: none gets more than twice its share.
    assert.ok(sizes.every((n) => n <= (2 * IDS.length) / count), `sizes ${sizes} for ${count} shards`);
  }
});

Deno.test("runMatrix on each shard runs that shard's runs only; the shards together run each run once", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const executed: string[][] = [];
    for (const index of [1, 2, 3]) {
      const out = join(dir, `shard-${index}`);
      await Deno.mkdir(out);
      const ran: string[] = [];
      const writer = new ShardManifestWriter(out, { index, count: 3 });
      const logs: string[] = [];
      const records = await runMatrix(runs(ran), {
        journal: join(out, "matrix.jsonl"),
        environment,
        preset: "tiny",
        log: (l) => logs.push(l),
        shard: writer.forSuite("matrix"),
      });
      assert.deepEqual(records.map((r) => r.id), ran);
      assert.ok(ran.every((id) => shardOf(id, 3) === index));
      assert.equal(logs[0], `shard ${index}/3: ${ran.length} of ${IDS.length} runs`);
      // The manifest holds the whole plan, in order, on every shard.
      const manifest = await readManifest(out);
      assert.deepEqual(manifest.shard, { index, count: 3 });
      assert.deepEqual(manifest.runs, { matrix: IDS });
      executed.push(ran);
    }
    assert.deepEqual(executed.flat().sort(), [...IDS].sort());
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** A suite that is not a run matrix, and one that is (journaled in `journal`). */
function suites(ran: string[], journal: string): BenchSuite[] {
  const section = () => ({ id: "x", title: "x", intro: "", tables: [], charts: [] });
  return [
    { name: "kernels", description: "whole", run: () => Promise.resolve([{ name: "matmul" }]), section },
    {
      name: "matrix",
      description: "sharded",
      sharded: true,
      run: (ctx) =>
        runMatrix(runs(ran), { journal, environment, preset: "t", log: () => {}, shard: ctx.shard }),
      section: () => ({ ...section(), id: "y" }),
    },
  ];
}

Deno.test("a sharded bench runs a suite that is not a run matrix whole, on the shard its name belongs to", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const home = shardOf("kernels", 2);
    for (const index of [1, 2]) {
      const out = join(dir, `shard-${index}`);
      await Deno.mkdir(out);
      const ran: string[] = [];
      const lines: string[] = [];
      const results = await runSuites(noGpu, suites(ran, join(out, "m.jsonl")), {
        environment,
        timing: {},
        quick: true,
        log: (l) => lines.push(l),
        shard: new ShardManifestWriter(out, { index, count: 2 }),
      });
      assert.equal(results.suites.kernels !== undefined, index === home);
      if (index !== home) assert.ok(lines.some((l) => l.includes(`"kernels" runs whole on shard ${home}/2`)));
      assert.deepEqual((results.suites.matrix as MatrixRecord[]).map((r) => r.id), ran);
      const manifest = await readManifest(out);
      assert.deepEqual(manifest.whole, ["kernels"]);
      assert.deepEqual(manifest.runs.matrix, IDS);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

import assert from "node:assert/strict";
import { join } from "node:path";
import type { Provenance } from "../../lib/records.ts";
import type { Environment } from "../../lib/harness/env.ts";
import { type BenchOutput, mergeBenchOutputs, readBenchOutput } from "../../lib/harness/merge.ts";
import { writeResultsFile } from "../../lib/harness/runner.ts";
import { SHARD_MANIFEST, type ShardManifest, shardOf } from "../../lib/harness/shard.ts";
import { RESULTS_SCHEMA_VERSION } from "../../lib/harness/suite.ts";

function environment(description: string): Environment {
  return {
    adapter: { vendor: "", architecture: "", description, isFallbackAdapter: false },
    deno: { deno: "2.9.6", v8: "14.0", typescript: "5.9" },
    gitCommit: "abc1234",
    date: "2000-01-01T00:00:00.000Z",
    os: "linux",
    arch: "x86_64",
    cpuCount: 16,
  };
}

function provenance(adapter: string, preset = "paper"): Provenance {
  return {
    adapter,
    softwareAdapter: false,
    commit: "abc1234",
    deno: "2.9.6",
    date: `${adapter} date`,
    preset,
  };
}

const run = (id: string, adapter: string, preset = "paper") => ({
  id,
  status: "ok",
  loss: id.length,
  provenance: provenance(adapter, preset),
});

// Ten runs in plan order, each on the shard of 2 its id belongs to.
const PLAN = Array.from({ length: 10 }, (_, i) => `paper|lora|r8|seed${i}`);
const COUNT = 2;
const owned = (index: number) => PLAN.filter((id) => shardOf(id, COUNT) === index);
const KERNELS_HOME = shardOf("kernels", COUNT);

function manifest(index: number, deferred: string[] = []): ShardManifest {
  return {
    schemaVersion: 1,
    shard: { index, count: COUNT },
    runs: { uuid: PLAN },
    whole: ["kernels"],
    deferred: deferred.length ? { uuid: deferred } : {},
  };
}

/** Shard `index` of the plan, on its own adapter, with its runs in reverse (the merge restores plan order). */
function shard(index: number, extra: object[] = []): BenchOutput {
  const adapter = `GPU ${index}`;
  const suites: Record<string, unknown[]> = {
    uuid: [...owned(index).reverse().map((id) => run(id, adapter)), ...extra],
  };
  if (index === KERNELS_HOME) suites.kernels = [{ name: "matmul", provenance: provenance(adapter, "full") }];
  return {
    dir: `shards/${index}`,
    results: { schemaVersion: RESULTS_SCHEMA_VERSION, environment: environment(adapter), suites },
    manifest: manifest(index, ["lora r=8: waits for its search"]),
  };
}

Deno.test("shards merge into the plan's order, each record keeping its own provenance", () => {
  const merged = mergeBenchOutputs([shard(2), shard(1)]);
  const uuid = merged.results.suites.uuid as ReturnType<typeof run>[];
  assert.deepEqual(uuid.map((r) => r.id), PLAN);
  for (const r of uuid) assert.equal(r.provenance.adapter, `GPU ${shardOf(r.id, COUNT)}`);
  assert.equal(merged.results.suites.kernels!.length, 1);
  // The file's environment is the first directory's; each record says where it was measured.
  assert.equal(merged.results.environment.adapter.description, "GPU 2");
  assert.deepEqual(merged.missing, []);
  assert.deepEqual(merged.deferred, ["uuid: lora r=8: waits for its search"]);
  assert.match(merged.merged[0]!, /^shards\/2: shard 2\/2, uuid \d+.*; adapter GPU 2, commit abc1234/);
  assert.equal(merged.merged.at(-1), "merged 11 records of 2 suites from 2 directories");
});

Deno.test("a run in two directories is kept once when identical and refused, naming both, when not", () => {
  const [id] = owned(1);
  const copy = { ...shard(2), results: { ...shard(2).results!, suites: { uuid: [run(id!, "GPU 1")] } } };
  const merged = mergeBenchOutputs([shard(1), copy]);
  assert.equal((merged.results.suites.uuid as unknown[]).length, owned(1).length);
  assert.match(merged.merged.at(-1)!, /; 1 identical duplicates kept once$/);
  const other = { ...copy, results: { ...copy.results, suites: { uuid: [run(id!, "GPU 2")] } } };
  assert.throws(
    () => mergeBenchOutputs([shard(1), other]),
    (e: unknown) =>
      e instanceof RangeError &&
      e.message.includes(
        `Cannot merge run "${id}" of suite "uuid": shards/1/results.json and shards/2/results.json hold ` +
          `different results for it`,
      ),
  );
});

Deno.test("a suite without run ids comes from one directory", () => {
  const home = shard(KERNELS_HOME);
  const again = { ...home, dir: "again" };
  assert.equal(mergeBenchOutputs([home, again]).results.suites.kernels!.length, 1);
  const kernels = [{ name: "matmul", provenance: provenance("elsewhere", "full") }];
  const other = { ...again, results: { ...home.results!, suites: { kernels } } };
  assert.throws(
    () => mergeBenchOutputs([home, other]),
    /Cannot merge suite "kernels": shards\/\d\/results\.json and again\/results\.json both hold records/,
  );
});

Deno.test("a suite of mixed presets is refused unless asked for", () => {
  const outputs = [shard(1), shard(2, [run("quick|fft|full|seed0", "GPU 2", "quick")])];
  assert.throws(
    () => mergeBenchOutputs(outputs),
    /Cannot merge suite "uuid": its records come from presets "paper" \(shards\/1\/results\.json\), "quick" \(shards\/2\/results\.json\); .* --allow-mixed-presets/,
  );
  const merged = mergeBenchOutputs(outputs, { allowMixedPresets: true });
  assert.equal((merged.results.suites.uuid as unknown[]).length, PLAN.length + 1);
});

Deno.test("what a failed or absent shard planned is named as missing", () => {
  const home = KERNELS_HOME, other = 3 - KERNELS_HOME;
  const failed = { ...shard(home), results: undefined };
  const merged = mergeBenchOutputs([shard(other), failed]);
  assert.deepEqual(merged.missing, [
    ...owned(home).map((id) => `uuid: run "${id}" has no record (shard ${home}/2)`),
    `kernels: no records (runs whole on shard ${home}/2)`,
  ]);
  assert.equal(merged.merged[1], `shards/${home}: shard ${home}/2, did not finish (no results.json)`);
  // A shard that left nothing at all is named too, and its runs come from the other shard's plan.
  const alone = mergeBenchOutputs([shard(other)]);
  assert.deepEqual(alone.missing, [`shard ${home}/2: left no output`, ...merged.missing]);
  const three = { ...shard(other), manifest: { ...manifest(other), shard: { index: other, count: 3 } } };
  assert.throws(() => mergeBenchOutputs([three, shard(home)]), /Cannot merge shards of 3 and 2 shards/);
  assert.throws(() => mergeBenchOutputs([failed]), /Cannot merge: none of 1 directories has a results\.json/);
});

Deno.test("readBenchOutput reads results.json and shard.json, and refuses a directory with neither", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(() => readBenchOutput(dir), /it has neither results\.json nor shard\.json/);
    const { results, manifest } = shard(1);
    await writeResultsFile(join(dir, "results.json"), results!);
    assert.deepEqual(await readBenchOutput(dir), { dir, results });
    await Deno.writeTextFile(join(dir, SHARD_MANIFEST), JSON.stringify(manifest));
    assert.deepEqual(await readBenchOutput(dir), { dir, results, manifest });
    await Deno.writeTextFile(join(dir, SHARD_MANIFEST), JSON.stringify({ schemaVersion: 1 }));
    await assert.rejects(() => readBenchOutput(dir), SyntaxError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

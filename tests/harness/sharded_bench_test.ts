import assert from "node:assert/strict";
import { join } from "node:path";
import { makeUuidSuite, type UuidBenchOptions } from "../../benchmarks/uuid.ts";
import { recordEnvironment } from "../../lib/harness/env.ts";
import { runSuites, writeResultsFile } from "../../lib/harness/runner.ts";
import { type Shard, ShardManifestWriter, shardOf } from "../../lib/harness/shard.ts";
import { parseResultsFile, type ResultsFile } from "../../lib/harness/suite.ts";
import type { UuidRunRecord } from "../../lib/records.ts";
import { gpuTest, testGpu } from "../_gpu.ts";
import { tinyBench } from "../uuid/_tiny.ts";

const REPORT = new URL("../../benchmarks/report.ts", import.meta.url).pathname;

/** One bench of the tiny UUID matrix into `outDir`, as `deno task bench [--shard i/N]` runs it. */
async function bench(options: UuidBenchOptions, outDir: string, shard?: Shard): Promise<ResultsFile> {
  const gpu = await testGpu();
  await Deno.mkdir(outDir, { recursive: true });
  const results = await runSuites(gpu, [makeUuidSuite({ ...options, outDir })], {
    environment: await recordEnvironment(gpu.adapter),
    timing: {},
    quick: true,
    log: () => {},
    ...shard ? { shard: new ShardManifestWriter(outDir, shard) } : {},
  });
  await writeResultsFile(join(outDir, "results.json"), results);
  return results;
}

/** `deno task report --merge DIRS --out OUT`: its exit code and output. */
async function merge(dirs: string[], out: string) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-write", "--allow-env", REPORT, "--merge", ...dirs, "--out", out],
  }).output();
  const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
  return { code: output.code, text };
}

async function uuidRecords(dir: string): Promise<UuidRunRecord[]> {
  const path = join(dir, "results.json");
  return parseResultsFile(await Deno.readTextFile(path), path).suites.uuid as UuidRunRecord[];
}

/** A record without what differs between two runs of it: when it ran and how fast. */
const measured = ({ provenance, msPerStep: _, ...rest }: UuidRunRecord) => ({
  ...rest,
  provenance: { ...provenance, date: "" },
});

Deno.test({
  name: "two shards of a tiny UUID matrix, searched, merged, run again and merged, equal the unsharded run",
  ...gpuTest,
  async fn() {
    const root = await Deno.makeTempDir();
    try {
      // One base for every bench: the base's path is part of each run id.
      const options = { ...await tinyBench(root), methods: ["lora"], ranks: [1] };
      const whole = (await bench(options, join(root, "whole"))).suites.uuid as UuidRunRecord[];
      const dirs = [join(root, "shard-1"), join(root, "shard-2")];
      const search = join(root, "lr-search-uuid-quick.json");

      // Pass 1: the search is split across the shards; the reported runs wait for the merge.
      for (const [i, dir] of dirs.entries()) await bench(options, dir, { index: i + 1, count: 2 });
      const first = await merge(dirs, join(root, "merged-search"));
      assert.equal(first.code, 0, first.text);
      assert.match(
        first.text,
        /deferred: uuid: lora r=1: its 1 reported run\(s\) wait for its learning-rate/,
      );
      const searched = await uuidRecords(join(root, "merged-search"));
      assert.deepEqual(searched.map(measured), whole.filter((r) => r.role === "lr-search").map(measured));
      await Deno.copyFile(join(root, "merged-search", "lr-search-uuid-quick.json"), search);

      // Pass 2: with the merged search, the shards split the reported runs.
      for (const [i, dir] of dirs.entries()) {
        await Deno.copyFile(search, join(dir, "lr-search-uuid-quick.json"));
        const records = (await bench(options, dir, { index: i + 1, count: 2 })).suites
          .uuid as UuidRunRecord[];
        const reported = records.filter((r) => r.role !== "lr-search");
        assert.ok(reported.every((r) => shardOf(r.id, 2) === i + 1), "each shard ran its own runs only");
      }
      const second = await merge(dirs, join(root, "merged"));
      assert.equal(second.code, 0, second.text);
      const merged = await uuidRecords(join(root, "merged"));
      assert.deepEqual(merged.map(measured), whole.map(measured));
      const html = await Deno.readTextFile(join(root, "merged", "index.html"));
      assert.match(html, /UUID memorization/);
      assert.match(html, /<svg/);

      // A shard that did not finish: its runs are named, and the merge fails.
      const owner = shardOf(merged.find((r) => r.role !== "lr-search")!.id, 2);
      await Deno.remove(join(dirs[owner - 1]!, "results.json"));
      const partial = await merge(dirs, join(root, "partial"));
      assert.equal(partial.code, 1, partial.text);
      assert.match(partial.text, new RegExp(`shard-${owner}: shard ${owner}/2, did not finish`));
      const lost = merged.filter((r) => shardOf(r.id, 2) === owner && r.role !== "lr-search");
      for (const r of lost) assert.ok(partial.text.includes(`missing: uuid: run "${r.id}" has no record`));
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});

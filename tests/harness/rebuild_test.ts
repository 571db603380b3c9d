import assert from "node:assert/strict";
import { join } from "node:path";
import type { Provenance } from "../../lib/records.ts";
import {
  environmentOfRecords,
  latestSuiteRecords,
  mergeById,
  rebuiltResults,
} from "../../lib/harness/rebuild.ts";
import { LOCK_FILE } from "../../lib/harness/lock.ts";
import { writeResultsFile } from "../../lib/harness/runner.ts";
import { parseResultsFile } from "../../lib/harness/suite.ts";
import type { UuidRunRecord, UuidRunRole } from "../../lib/records.ts";
import { runId } from "../../lib/uuid/experiment.ts";
import { BENCH_RUN, deno, REPORT_RUN } from "../_cli.ts";

const OLD = "2026-01-01T00:00:00.000Z", NEW = "2026-02-01T00:00:00.000Z";

function provenance(date: string): Provenance {
  return {
    adapter: "1: llvmpipe",
    softwareAdapter: true,
    commit: "abc1234",
    deno: "2.9.6",
    date,
    preset: "full",
  };
}

function matmul(n: number, date: string) {
  return {
    op: "matmul",
    label: `nt ${n}³`,
    params: { layout: "nt", m: n, n, k: n },
    pass: "forward",
    flops: 2 * n ** 3,
    bytes: 0,
    timing: { meanMs: 1.5, bestMs: 1.25, repetitions: 8, trialsMs: [1.5, 1.25, 1.75] },
    provenance: provenance(date),
  };
}

function uuidRun(seed: number, role: UuidRunRole, date: string): UuidRunRecord {
  const spec = {
    preset: "quick",
    method: "lora",
    rank: 1,
    seed,
    lr: 0.01,
    steps: 128,
    batch: 16,
    pairs: 16,
    base: "tiny",
  };
  return {
    id: runId(spec),
    status: "ok",
    spec,
    role,
    trainableParams: 64,
    losses: Array.from({ length: 10 }, (_, i) => ({ step: i + 1, loss: 3 - i / 10 })),
    evals: [3, 5, 7, 9, 10].map((step) => ({
      step,
      charAccuracy: 0.2,
      exactMatch: 0,
      teacherForcedAccuracy: 0.3,
    })),
    msPerStep: 2,
    provenance: { ...provenance(date), preset: "quick" },
  };
}

const lines = (entries: unknown[]) => entries.map((e) => JSON.stringify(e)).join("\n") + "\n";

Deno.test("latestSuiteRecords keeps each suite's latest bench run and skips bad lines, naming them", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "results.jsonl");
    const [old, a, b] = [matmul(64, OLD), matmul(128, NEW), matmul(256, NEW)];
    await Deno.writeTextFile(
      path,
      lines([{ date: OLD, suite: "kernels", record: old }, {
        date: OLD,
        suite: "training",
        record: { ms: 1 },
      }]) +
        '{"date": "x", "suite": 3}\n' + lines([{ date: NEW, suite: "kernels", record: a }]) +
        lines([{ date: NEW, suite: "kernels", record: b }]) + '{"date": "2026-03',
    );
    const warnings: string[] = [];
    const suites = await latestSuiteRecords(path, (w) => warnings.push(w));
    assert.deepEqual(suites, { kernels: [a, b], training: [{ ms: 1 }] });
    assert.equal(warnings.length, 2);
    assert.match(warnings[0]!, /line 3 of ".*results.jsonl": it is not a results entry/);
    assert.match(warnings[1]!, /line 6 of ".*results.jsonl": it is not valid JSON/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("mergeById keeps one record per id in first-seen order, the later source's winning", () => {
  const merged = mergeById([{ id: "a", v: 1 }, { id: "b", v: 1 }], [{ id: "c", v: 2 }, { id: "a", v: 2 }]);
  assert.deepEqual(merged, [{ id: "a", v: 2 }, { id: "b", v: 1 }, { id: "c", v: 2 }]);
});

Deno.test("the rebuilt environment is the newest record's provenance; no provenance is refused", () => {
  const env = environmentOfRecords({ kernels: [matmul(64, NEW)], uuid: [uuidRun(0, "table1", OLD)] }, "j");
  assert.equal(env.date, NEW);
  assert.deepEqual(env.adapter, {
    vendor: "",
    architecture: "",
    description: "1: llvmpipe",
    isFallbackAdapter: true,
  });
  assert.equal(env.gitCommit, "abc1234");
  assert.throws(
    () => rebuiltResults({ kernels: [{ op: "matmul" }] }, "r.jsonl"),
    /Cannot rebuild the results from "r.jsonl": it holds no record with a provenance/,
  );
});

Deno.test("a corrupt results.json stops `bench --suite` before any suite runs; `report --rebuild` restores it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const kernels = [matmul(128, NEW), matmul(256, NEW)];
    const search = uuidRun(100, "lr-search", NEW), table = uuidRun(0, "table1", NEW);
    const later = uuidRun(1, "table1", NEW); // finished after the last complete uuid suite
    await Deno.writeTextFile(
      join(dir, "results.jsonl"),
      lines([
        { date: OLD, suite: "kernels", record: matmul(64, OLD) },
        ...kernels.map((record) => ({ date: NEW, suite: "kernels", record })),
        ...[search, table].map((record) => ({ date: NEW, suite: "uuid", record })),
      ]),
    );
    await Deno.writeTextFile(join(dir, "uuid-quick.jsonl"), lines([search, table, later]));
    const lrSearch = { schemaVersion: 1, preset: "quick", records: [search] };
    await Deno.writeTextFile(join(dir, "lr-search-uuid-quick.json"), JSON.stringify(lrSearch));
    const path = join(dir, "results.json");
    await writeResultsFile(path, rebuiltResults({ kernels, uuid: [search, table] }, "fixture"));
    const truncated = (await Deno.readTextFile(path)).slice(0, 300);
    await Deno.writeTextFile(path, truncated);

    const bench = await deno([...BENCH_RUN, "--suite", "training", "--out", dir]);
    assert.equal(bench.code, 1, bench.stdout + bench.stderr);
    assert.match(
      bench.stderr,
      new RegExp(
        `error: Cannot read results "${path}": .*; --suite keeps the other suites' records from it: rebuild it ` +
          `from the journals with \`deno task report --rebuild --out ${dir}\`, or delete it`,
      ),
    );
    assert.doesNotMatch(bench.stdout, /Suite 1\/1|Adapter:/, "nothing ran, not even the GPU request");
    assert.equal(await Deno.readTextFile(path), truncated, "the corrupt file is left as it was");
    await assert.rejects(Deno.stat(join(dir, LOCK_FILE)), Deno.errors.NotFound, "the lock is released");

    const report = await deno([...REPORT_RUN, "--rebuild", "--out", dir]);
    assert.equal(report.code, 0, report.stdout + report.stderr);
    assert.match(report.stdout, /Rebuilt 2 "kernels" records into .*\nRebuilt 3 "uuid" records into/);
    const rebuilt = parseResultsFile(await Deno.readTextFile(path), path);
    assert.deepEqual(rebuilt.suites.kernels, kernels);
    assert.deepEqual(rebuilt.suites.uuid, [search, table, later]);
    assert.equal(rebuilt.environment.date, NEW);
    assert.equal(await Deno.readTextFile(`${path}.bak`), truncated, "the corrupt file is kept aside");
    assert.match(await Deno.readTextFile(join(dir, "index.html")), /UUID memorization/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("`report` on a corrupt results.json points to --rebuild; --rebuild picks among journals only by --preset", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(dir, "results.json"), "{");
    const report = await deno([...REPORT_RUN, "--out", dir]);
    assert.equal(report.code, 1);
    assert.match(report.stderr, /rebuild it from the journals with `deno task report --rebuild --out /);
    for (const preset of ["quick", "smoke"]) {
      await Deno.writeTextFile(join(dir, `uuid-${preset}.jsonl`), lines([uuidRun(0, "table1", NEW)]));
    }
    const ambiguous = await deno([...REPORT_RUN, "--rebuild", "--out", dir]);
    assert.equal(ambiguous.code, 1);
    assert.match(
      ambiguous.stderr,
      /has the journals of presets "quick", "smoke"; pick one with --preset NAME/,
    );
    const picked = await deno([...REPORT_RUN, "--rebuild", "--preset", "quick", "--out", dir]);
    assert.equal(picked.code, 0, picked.stderr);
    assert.match(picked.stdout, /Rebuilt 1 "uuid" records/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

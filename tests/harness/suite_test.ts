import assert from "node:assert/strict";
import { provenanceOf } from "../../lib/experiment/matrix.ts";
import { join } from "node:path";
import { readResults } from "../../lib/harness/results.ts";
import { runSuites, writeResultsFile } from "../../lib/harness/runner.ts";
import {
  type BenchSuite,
  parseResultsFile,
  RESULTS_SCHEMA_VERSION,
  sectionsOf,
} from "../../lib/harness/suite.ts";
import type { Gpu } from "../../lib/gpu/device.ts";
import { gpuTest, testGpu } from "../_gpu.ts";
import { SOFTWARE_ENVIRONMENT } from "../_environment.ts";

const environment = SOFTWARE_ENVIRONMENT;

interface Sample {
  name: string;
  ms: number;
}

const sampleSuite: BenchSuite<Sample> = {
  name: "sample",
  description: "two fixed records",
  run(ctx) {
    ctx.progress("measuring samples");
    return Promise.resolve([{ name: "a", ms: 1.5 }, { name: "b", ms: 2.25 }]);
  },
  section(records, env) {
    return {
      id: "sample",
      title: `Samples on ${env.adapter.description}`,
      intro: "",
      tables: [{ caption: "Samples", columns: ["Name", "ms"], rows: records.map((r) => [r.name, r.ms]) }],
      charts: [],
    };
  },
};

Deno.test({
  name: "runSuites journals every record, prints progress and tables, and returns the results file",
  ...gpuTest,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const lines: string[] = [];
      const journal = join(dir, "results.jsonl");
      const results = await runSuites(await testGpu(), [sampleSuite], {
        environment,
        timing: {},
        quick: true,
        journal,
        log: (line) => lines.push(line),
      });
      assert.equal(results.schemaVersion, RESULTS_SCHEMA_VERSION);
      // Each record is stamped with where it was measured (a record that has a provenance keeps its own).
      const provenance = provenanceOf(environment, "quick");
      const stamped = (results.suites.sample as { provenance: typeof provenance }[]).map((r) => {
        assert.equal(r.provenance.commit, environment.gitCommit);
        assert.equal(r.provenance.preset, "quick");
        return { ...r, provenance: { ...r.provenance, date: "" } };
      });
      assert.deepEqual(stamped, [
        { name: "a", ms: 1.5, provenance: { ...provenance, date: "" } },
        { name: "b", ms: 2.25, provenance: { ...provenance, date: "" } },
      ]);
      assert.deepEqual(
        (await readResults<{ suite: string; record: Sample }>(journal)).map((l) => l.record.name),
        [
          "a",
          "b",
        ],
      );
      const output = lines.join("\n");
      assert.match(output, /\[\d+\.\d s\] Suite 1\/1 "sample": two fixed records/);
      assert.match(output, /\[\d+\.\d s\] measuring samples/);
      assert.match(output, /== Samples on llvmpipe ==[\s\S]*b {5}2\.25/);
      const path = join(dir, "results.json");
      await writeResultsFile(path, results);
      assert.deepEqual(parseResultsFile(await Deno.readTextFile(path), path), results);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("runSuites validates every suite's plan before the first suite runs", async () => {
  const ran: string[] = [], validated: string[] = [];
  const suite = (name: string, bad = false): BenchSuite<Sample> => ({
    ...sampleSuite,
    name,
    validate() {
      validated.push(name);
      return bad ? Promise.reject(new RangeError(`Cannot plan "${name}"`)) : Promise.resolve();
    },
    run(ctx) {
      ran.push(name);
      return sampleSuite.run(ctx);
    },
  });
  // Validation needs no GPU: a bad plan stops the bench before any suite gets the device.
  const noGpu = undefined as unknown as Gpu;
  await assert.rejects(
    runSuites(noGpu, [suite("first"), sampleSuite, suite("third", true)], {
      environment,
      timing: {},
      quick: true,
      log: () => {},
    }),
    /Cannot plan "third"/,
  );
  assert.deepEqual(validated, ["first", "third"]);
  assert.deepEqual(ran, [], "no suite ran");
});

Deno.test("results files of another schema version or not JSON are refused with the fix", () => {
  assert.throws(
    () => parseResultsFile(JSON.stringify({ schemaVersion: 0, environment, suites: {} }), "r.json"),
    /Cannot read results "r\.json": expected schemaVersion 1 .* got schemaVersion 0; run `deno task bench`/,
  );
  assert.throws(() => parseResultsFile("{", "r.json"), /Cannot read results "r\.json": .*deno task bench/);
  assert.throws(
    () => parseResultsFile("{", "r.json", "do this"),
    /Cannot read results "r\.json": .*; do this$/,
  );
});

Deno.test("sections come from the suites with records; unknown suites are named", () => {
  const base = { schemaVersion: RESULTS_SCHEMA_VERSION, environment };
  const sections = sectionsOf({ ...base, suites: { sample: [{ name: "x", ms: 1 }] } }, [sampleSuite]);
  assert.deepEqual(sections.map((s) => s.tables[0]!.rows), [[["x", 1]]]);
  assert.deepEqual(sectionsOf({ ...base, suites: {} }, [sampleSuite]), []);
  assert.throws(
    () => sectionsOf({ ...base, suites: { old: [] } }, [sampleSuite]),
    /Cannot report suites "old"/,
  );
});

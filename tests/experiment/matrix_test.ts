import assert from "node:assert/strict";
import { join } from "node:path";
import type { Environment } from "../../lib/harness/env.ts";
import {
  checkRunSize,
  learningStatus,
  type MatrixRun,
  provenanceOf,
  readJournal,
  runMatrix,
} from "../../lib/experiment/matrix.ts";
import type { MatrixRecord } from "../../lib/records.ts";

function environment(gitCommit: string, deno = "2.9.6"): Environment {
  return {
    adapter: { vendor: "fake", architecture: "", description: "test adapter", isFallbackAdapter: true },
    deno: { deno, v8: "13.0", typescript: "5.9" },
    gitCommit,
    date: "2000-01-01T00:00:00.000Z",
    os: "linux",
    arch: "x86_64",
    cpuCount: 2,
  };
}

interface LossRecord extends MatrixRecord {
  loss: number;
}

/** Runs that count their executions; `statuses` gives a run a non-`ok` end. */
function plan(ids: string[], statuses: Record<string, "diverged" | "not-learning"> = {}) {
  const executed: string[] = [];
  const runs: MatrixRun<LossRecord>[] = ids.map((id, i) => ({
    id,
    label: `run ${id}`,
    execute() {
      executed.push(id);
      const status = statuses[id] ?? "ok";
      return Promise.resolve({
        id,
        status,
        loss: status === "diverged" ? NaN : 1 + i,
        ...status === "ok" ? {} : { failure: `${id} failed on purpose` },
      });
    },
  }));
  return { runs, executed };
}

async function withJournal(fn: (journal: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(join(dir, "nested", "matrix.jsonl"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const noWarnings = (line: string) => assert.fail(`unexpected warning: ${line}`);

Deno.test("runMatrix journals every record at once with the provenance of the run that measured it", async () => {
  await withJournal(async (journal) => {
    const { runs, executed } = plan(["a", "b", "c"]);
    const logs: string[] = [];
    const start = Date.now();
    const records = await runMatrix(runs, {
      journal,
      environment: environment("abc1234-dirty"),
      preset: "tiny",
      log: (l) => logs.push(l),
      warn: noWarnings,
    });
    assert.deepEqual(executed, ["a", "b", "c"]);
    assert.deepEqual(records.map((r) => [r.id, r.status, r.loss]), [["a", "ok", 1], ["b", "ok", 2], [
      "c",
      "ok",
      3,
    ]]);
    for (const r of records) {
      const { date, ...rest } = r.provenance;
      assert.deepEqual(rest, {
        adapter: "fake: test adapter",
        softwareAdapter: true,
        commit: "abc1234-dirty",
        deno: "2.9.6",
        preset: "tiny",
      });
      const t = Date.parse(date);
      assert.ok(t >= start - 1000 && t <= Date.now() + 1000, `date ${date} is not the time of the run`);
    }
    assert.deepEqual(logs, ["[1/3] run a", "[2/3] run b", "[3/3] run c"]);
    const lines = (await Deno.readTextFile(journal)).trimEnd().split("\n");
    assert.deepEqual(lines.map((l) => JSON.parse(l)), records);
  });
});

Deno.test("provenanceOf names the adapter without a vendor and a hardware adapter as such", () => {
  const env = environment("1234567", "3.0.0");
  env.adapter = { vendor: "", architecture: "hopper", description: "NVIDIA H200", isFallbackAdapter: false };
  const p = provenanceOf(env, "gpu");
  assert.deepEqual({ ...p, date: "" }, {
    adapter: "NVIDIA H200",
    softwareAdapter: false,
    commit: "1234567",
    deno: "3.0.0",
    date: "",
    preset: "gpu",
  });
  assert.ok(!Number.isNaN(Date.parse(p.date)));
});

Deno.test("a second runMatrix executes nothing and returns the recorded runs with their original provenance", async () => {
  await withJournal(async (journal) => {
    const first = plan(["a", "b"]);
    const recorded = await runMatrix(first.runs, {
      journal,
      environment: environment("abc1234"),
      preset: "tiny",
      log: () => {},
      warn: noWarnings,
    });
    const journalBefore = await Deno.readTextFile(journal);
    const second = plan(["a", "b"]);
    const logs: string[] = [];
    const again = await runMatrix(second.runs, {
      journal,
      environment: environment("fffffff", "9.9.9"),
      preset: "other",
      log: (l) => logs.push(l),
      warn: noWarnings,
    });
    assert.deepEqual(second.executed, []);
    assert.deepEqual(again, recorded);
    assert.ok(again.every((r) => r.provenance.commit === "abc1234" && r.provenance.preset === "tiny"));
    assert.deepEqual(logs, [
      "[1/2] run a: recorded earlier (abc1234), skipped",
      "[2/2] run b: recorded earlier (abc1234), skipped",
    ]);
    assert.equal(await Deno.readTextFile(journal), journalBefore, "nothing was rewritten or appended");

    // A matrix that grew runs only the new run, in its place, and keeps the old records as they were.
    const grown = plan(["a", "new", "b"]);
    const all = await runMatrix(grown.runs, {
      journal,
      environment: environment("fffffff"),
      preset: "tiny",
      log: () => {},
      warn: noWarnings,
    });
    assert.deepEqual(grown.executed, ["new"]);
    assert.deepEqual(all.map((r) => [r.id, r.provenance.commit]), [
      ["a", "abc1234"],
      ["new", "fffffff"],
      ["b", "abc1234"],
    ]);
  });
});

Deno.test("runMatrix refuses duplicate run ids before running anything", async () => {
  await withJournal(async (journal) => {
    const { runs, executed } = plan(["a", "b", "a"]);
    await assert.rejects(
      () => runMatrix(runs, { journal, environment: environment("abc"), preset: "tiny", log: () => {} }),
      (error: unknown) =>
        error instanceof RangeError &&
        /Cannot plan run "a" twice: run ids must be unique/.test(error.message),
    );
    assert.deepEqual(executed, []);
    await assert.rejects(() => Deno.stat(journal), Deno.errors.NotFound);
  });
});

Deno.test("journal lines that are not records are skipped with a warning naming them; the others are kept", async () => {
  await withJournal(async (journal) => {
    const { runs } = plan(["a", "b"]);
    const env = environment("abc1234");
    const [a, b] = await runMatrix(runs, { journal, environment: env, preset: "tiny", log: () => {} });
    // Lines 2–5 are JSON but not records, line 6 is not JSON.
    await Deno.writeTextFile(
      journal,
      [
        JSON.stringify(a),
        "null",
        "42",
        '{"id":"x"}',
        '{"id":"y","status":"ok"}',
        '{"id": "b", "sta',
        JSON.stringify(b),
      ]
        .join("\n") + "\n",
    );
    const warnings: string[] = [];
    const done = await readJournal<LossRecord>(journal, (w) => warnings.push(w));
    assert.deepEqual([...done.keys()], ["a", "b"]);
    assert.deepEqual(done.get("a"), a);
    assert.deepEqual(done.get("b"), b);
    assert.equal(warnings.length, 5, warnings.join("\n"));
    const journalName = journal.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    // Every warning names the file line: 2–5 are JSON but not records, 6 is not JSON.
    for (const [i, n] of [2, 3, 4, 5].entries()) {
      assert.match(
        warnings[i]!,
        new RegExp(
          `^Skipping line ${n} of "${journalName}": it is not a run record \\(an id, a status and a provenance\\)`,
        ),
      );
    }
    assert.match(warnings[4]!, new RegExp(`^Skipping line 6 of "${journalName}": it is not valid JSON`));

    // runMatrix resumes over the same journal: nothing re-runs, the junk is reported through its warn.
    const again = plan(["a", "b"]);
    const resumeWarnings: string[] = [];
    const records = await runMatrix(again.runs, {
      journal,
      environment: env,
      preset: "tiny",
      log: () => {},
      warn: (w) => resumeWarnings.push(w),
    });
    assert.deepEqual(again.executed, []);
    assert.deepEqual(records, [a, b]);
    assert.equal(resumeWarnings.length, 5);
  });
});

Deno.test({
  name: "a non-record after a broken line is named by its own line number",
  async fn() {
    await withJournal(async (journal) => {
      await Deno.mkdir(join(journal, ".."), { recursive: true });
      await Deno.writeTextFile(journal, '{"broken\n\nnull\n');
      const warnings: string[] = [];
      await readJournal(journal, (w) => warnings.push(w));
      assert.equal(warnings.length, 2);
      assert.match(warnings[1]!, /\b3 of "/, `the null is on line 3: ${warnings[1]}`);
    });
  },
});

Deno.test("a run that diverges or does not learn is journaled with its status and the matrix goes on", async () => {
  await withJournal(async (journal) => {
    const { runs, executed } = plan(["a", "b", "c"], { a: "diverged", b: "not-learning" });
    const logs: string[] = [];
    const records = await runMatrix(runs, {
      journal,
      environment: environment("abc1234"),
      preset: "tiny",
      log: (l) => logs.push(l),
      warn: noWarnings,
    });
    assert.deepEqual(executed, ["a", "b", "c"]);
    assert.deepEqual(records.map((r) => r.status), ["diverged", "not-learning", "ok"]);
    assert.deepEqual(logs, [
      "[1/3] run a",
      "  diverged: a failed on purpose",
      "[2/3] run b",
      "  not-learning: b failed on purpose",
      "[3/3] run c",
    ]);
    const done = await readJournal<LossRecord>(journal, noWarnings);
    assert.equal(done.get("a")?.status, "diverged");
    assert.equal(done.get("a")?.failure, "a failed on purpose");
    assert.equal(done.get("a")?.loss, null, "NaN is journaled as JSON null");
    assert.equal(done.get("b")?.status, "not-learning");
    assert.equal(done.get("c")?.status, "ok");
    // A recorded failure is a result: resuming does not retry it.
    const again = plan(["a", "b", "c"]);
    await runMatrix(again.runs, { journal, environment: environment("x"), preset: "tiny", log: () => {} });
    assert.deepEqual(again.executed, []);
  });
});

Deno.test("learningStatus: ok for a falling loss, not-learning for a flat one or one at ln(vocab)", () => {
  const losses = (...values: number[]) => values.map((loss) => ({ loss }));
  const vocab = 29; // ln 29 ≈ 3.367
  assert.deepEqual(learningStatus(losses(3, 2.5, 2), vocab), { status: "ok" });
  assert.deepEqual(
    learningStatus(losses(3, 3.5, 2.96), vocab),
    { status: "ok" },
    "only first and last count",
  );
  assert.deepEqual(learningStatus([], vocab), { status: "ok" });
  const flat = learningStatus(losses(3, 2.8, 2.99), vocab);
  assert.equal(flat.status, "not-learning");
  assert.match(flat.failure!, /final loss 2\.990 is not 1% below the first, 3\.000/);
  assert.equal(learningStatus(losses(3, 3.2), vocab).status, "not-learning", "a rising loss");
  const uniform = Math.log(vocab);
  for (const last of [uniform, uniform + 0.5]) {
    const s = learningStatus(losses(10, last), vocab);
    assert.equal(s.status, "not-learning", `last ${last}`);
    assert.match(s.failure!, /final loss 3\.\d{3} ≥ ln\(29\) = 3\.367, a uniform guess/);
  }
  assert.equal(learningStatus(losses(10, uniform - 0.01), vocab).status, "ok", "just below ln(vocab)");
  assert.equal(learningStatus(losses(5), vocab).status, "not-learning", "one point above ln(vocab)");
  assert.equal(learningStatus(losses(2), vocab).status, "ok", "one point below ln(vocab)");
});

Deno.test("checkRunSize passes a spec of its preset's size and names the preset's size otherwise", () => {
  const spec = { method: "lora", steps: 24, batch: 4 };
  checkRunSize("run-a", spec, { steps: 24, batch: 4 }, "quick");
  assert.throws(
    () => checkRunSize("run-a", spec, { steps: 48, batch: 4 }, "quick"),
    /Run run-a is not of preset quick's size \(steps 48, batch 4\): make its spec from the preset/,
  );
  assert.throws(() => checkRunSize("run-b", { steps: 24 }, { steps: 24, batch: 4 }, "quick"), RangeError);
});

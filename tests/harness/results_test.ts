import assert from "node:assert/strict";
import { join } from "node:path";
import { appendResult, readResults } from "../../lib/harness/results.ts";

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("appended records read back in order, one line each, in a directory created on demand", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "nested", "results.jsonl");
    const records = [{ name: "a", ms: 1.5 }, { name: "b", ms: 2, tags: ["x"] }, { name: "c", ms: null }];
    for (const r of records) await appendResult(path, r);
    assert.deepEqual(await readResults(path), records);
    assert.equal((await Deno.readTextFile(path)).split("\n").length, 4);
  });
});

Deno.test("a missing store reads as no records", async () => {
  await withTempDir(async (dir) => assert.deepEqual(await readResults(join(dir, "none.jsonl")), []));
});

Deno.test("a corrupt line is skipped with a warning naming its line and nothing else is lost", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "results.jsonl");
    await Deno.writeTextFile(path, '{"i":1}\n{"i":2}\n{"i":3, "trunc\n\n{"i":4}\n');
    const warnings: string[] = [];
    const records = await readResults(path, { warn: (m) => warnings.push(m) });
    assert.deepEqual(records, [{ i: 1 }, { i: 2 }, { i: 4 }]);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /^Skipping line 3 of ".*results\.jsonl": it is not valid JSON/);
  });
});

Deno.test("appending after a crash-truncated last line starts a new line, keeping the new record", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "results.jsonl");
    await Deno.writeTextFile(path, '{"i":1}\n{"i":2, "cut');
    await appendResult(path, { i: 3 });
    const warnings: string[] = [];
    assert.deepEqual(await readResults(path, { warn: (m) => warnings.push(m) }), [{ i: 1 }, { i: 3 }]);
    assert.match(warnings[0]!, /line 2/);
  });
});

Deno.test("a value with no JSON form is refused rather than written as a bad line", async () => {
  await withTempDir(async (dir) => {
    await assert.rejects(appendResult(join(dir, "r.jsonl"), undefined), /no JSON form/);
  });
});

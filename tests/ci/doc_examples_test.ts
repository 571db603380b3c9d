import assert from "node:assert/strict";

const root = new URL("../../", import.meta.url);
const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", root))) as {
  tasks: Record<string, string>;
  test: { include: string[]; exclude?: string[] };
};

Deno.test("deno task test type-checks and runs the JSDoc examples of lib/ and mod.ts next to tests/", () => {
  assert.match(config.tasks.test!, /^deno test --doc /);
  assert.deepEqual([...config.test.include].sort(), ["lib/", "mod.ts", "tests/"]);
});

Deno.test("each file left out of the example run still has examples: drop it from the list once they run", async () => {
  for (const path of config.test.exclude ?? []) {
    const text = await Deno.readTextFile(new URL(path, root));
    assert.match(text, /@example/, `${path} has no @example left; remove it from deno.json test.exclude`);
  }
});

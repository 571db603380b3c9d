import assert from "node:assert/strict";
import { readSearchFile, saveSearchFile, searchFilePath } from "../../lib/experiment/search_file.ts";

Deno.test("a saved search reads back; an absent one is empty; a foreign file is refused naming it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = searchFilePath(dir, "pretrain", "quick");
    assert.equal(path, `${dir}/lr-search-pretrain-quick.json`);
    assert.deepEqual(await readSearchFile(path), []);
    await saveSearchFile(path, "quick", [{ id: "a" }]);
    assert.deepEqual(await readSearchFile(path), [{ id: "a" }]);
    await Deno.writeTextFile(path, '{"records": []}');
    await assert.rejects(
      readSearchFile(path, "fix it"),
      /lr-search-pretrain-quick.json": expected schemaVersion 1.*; fix it/,
    );
    await Deno.writeTextFile(path, "{");
    await assert.rejects(
      readSearchFile(path),
      /lr-search-pretrain-quick.json".*delete it or run with --lr-search/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

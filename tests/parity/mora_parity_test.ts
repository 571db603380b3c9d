import assert from "node:assert/strict";
import { formatParityLine } from "../../lib/parity/compare.ts";
import { moraParity, readMoraVectors, variantOfKey } from "../../lib/parity/mora_parity.ts";
import { gpuTest, testGpu } from "../_gpu.ts";

Deno.test("reference variant keys map to our variant names", () => {
  assert.equal(variantOfKey("1"), "sharing");
  assert.equal(variantOfKey("4"), "sharingModuloRepeat");
  assert.equal(variantOfKey("6"), "rotation");
  assert.equal(variantOfKey("6-f64tables"), "rotation");
  assert.equal(variantOfKey("decouple"), "decouple");
  assert.throws(() => variantOfKey("5"), /Unknown MoRA variant "5"/);
});

Deno.test({
  name: "the WebGPU MoRA path matches the authors' vectors for every case and variant",
  ...gpuTest,
  async fn() {
    const lines = await moraParity(await testGpu(), "testdata/golden/mora.json");
    assert.equal(lines.length, 4 * 8);
    assert.deepEqual(lines.filter((l) => !l.ok).map(formatParityLine), []);
  },
});

Deno.test("a MoRA vectors file that is not JSON, or has no cases, is named in the error", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const broken = `${dir}/broken.json`, empty = `${dir}/empty.json`;
    await Deno.writeTextFile(broken, '{"cases": [');
    await Deno.writeTextFile(empty, "null");
    await assert.rejects(readMoraVectors(broken), new RegExp(`MoRA vectors "${broken}" are not valid JSON`));
    await assert.rejects(readMoraVectors(empty), new RegExp(`MoRA vectors "${empty}" have no "cases"`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

import assert from "node:assert/strict";
import { formatParityLine } from "../../lib/parity/compare.ts";
import { moraParity, variantOfKey } from "../../lib/parity/mora_parity.ts";
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

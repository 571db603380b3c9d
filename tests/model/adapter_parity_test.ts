import assert from "node:assert/strict";
import { adapterCases, adapterParity } from "../../lib/parity/adapter_parity.ts";
import { formatParityLine } from "../../lib/parity/compare.ts";
import { gpuTest, testGpu } from "../_gpu.ts";

const MODEL = "testdata/golden/llama-tiny";

Deno.test("the golden adapter cases are found", async () => {
  const cases = await adapterCases(MODEL);
  assert.deepEqual(cases.map((c) => c.split("/").at(-1)), ["lora-r4", "mora-rotation-r4", "mora-sharing-r4"]);
});

for (const name of ["lora-r4", "mora-rotation-r4", "mora-sharing-r4"]) {
  Deno.test({
    name: `PEFT adapter ${name} matches PyTorch: logits, merged logits, loss, gradients, AdamW trajectory`,
    ...gpuTest,
    async fn() {
      const gpu = await testGpu();
      const lines = await adapterParity(gpu, MODEL, `${MODEL}/adapters/${name}`);
      assert.deepEqual(lines.filter((l) => !l.ok).map(formatParityLine), []);
      // logits, loss, merged logits, trajectory, and per adapter tensor its gradient and its value after 5 steps.
      const tensors = name.startsWith("lora") ? 28 : 14;
      assert.equal(lines.length, 4 + 2 * tensors);
    },
  });
}

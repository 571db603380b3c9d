import assert from "node:assert/strict";
import { formatParityLine } from "../../lib/parity/compare.ts";
import { llamaParity } from "../../lib/parity/llama_parity.ts";
import { gpuTest, testGpu } from "../_gpu.ts";

Deno.test({
  name: "WebGPU LLaMA matches PyTorch float64: logits, loss, every gradient, 5-step AdamW trajectory",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const lines = await llamaParity(gpu, "testdata/golden/llama-tiny");
    const failed = lines.filter((l) => !l.ok);
    assert.deepEqual(failed.map(formatParityLine), []);
    // logits, loss, 20 gradients (2 layers × 9 + embed, norm, lm_head = 21), trajectory + 21 tensors.
    assert.ok(lines.length >= 2 + 21 + 1 + 21, `only ${lines.length} quantities compared`);
  },
});

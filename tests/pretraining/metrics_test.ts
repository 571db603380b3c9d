// Known answers of the validation metrics, on the GPU path Table 3 uses (`evaluate`).
import assert from "node:assert/strict";
import { byteTokenizer } from "../../lib/data/tokenizer.ts";
import { initLlamaWeights } from "../../lib/model/init.ts";
import { LlamaModel } from "../../lib/model/llama.ts";
import { evenWindows } from "../../lib/data/batches.ts";
import { evaluate } from "../../lib/train/evaluate.ts";
import { gpuTest, testGpu } from "../_gpu.ts";
import { TINY_CONFIG, TINY_DATA } from "./_tiny.ts";

Deno.test(
  "a uniform model has perplexity = vocabulary size and 8 bits per byte on bytes",
  gpuTest,
  async () => {
    const gpu = await testGpu();
    const weights = initLlamaWeights(TINY_CONFIG, 3);
    weights.get("lm_head.weight")!.fill(0); // every logit 0: p = 1/256 for every token
    const model = LlamaModel.create(gpu, TINY_CONFIG, weights, { trainBase: false });
    try {
      const stream = evenWindows(TINY_DATA.validation, 16, 8);
      const result = await evaluate(model, stream, byteTokenizer, { batch: 2, seqLen: 16 });
      assert.equal(result.tokens, 8 * 15);
      assert.ok(Math.abs(result.perplexity - 256) < 1e-3, `perplexity ${result.perplexity}`);
      assert.ok(Math.abs(result.bitsPerByte - 8) < 1e-5, `bits per byte ${result.bitsPerByte}`);
    } finally {
      model.destroy();
    }
  },
);

Deno.test("bits per byte agree with perplexity on a byte tokenizer: log2(perplexity)", gpuTest, async () => {
  const gpu = await testGpu();
  const model = LlamaModel.create(gpu, TINY_CONFIG, initLlamaWeights(TINY_CONFIG, 4), { trainBase: false });
  try {
    // No BOS/EOS among the predicted tokens: every predicted token is one byte.
    const result = await evaluate(model, evenWindows(TINY_DATA.validation, 16, 8), byteTokenizer, {
      batch: 4,
      seqLen: 16,
    });
    assert.ok(Math.abs(result.perplexity - 256) > 1, "a random model is not uniform");
    assert.ok(Math.abs(result.bitsPerByte - Math.log2(result.perplexity)) < 1e-6);
  } finally {
    model.destroy();
  }
});

Deno.test("validation windows are spread evenly over the held-out stream", () => {
  const stream = Uint32Array.from({ length: 100 }, (_, i) => i);
  assert.deepEqual([...evenWindows(stream, 4, 3)], [0, 1, 2, 3, 48, 49, 50, 51, 96, 97, 98, 99]);
  assert.equal(evenWindows(stream, 10, 50).length, 100, "at most as many windows as fit");
  assert.throws(() => evenWindows(stream.subarray(0, 3), 4, 1), /Cannot take 4-token windows of a 3-token/);
});

import assert from "node:assert/strict";
import { computeLogits, generateText, LlamaModel, loadCheckpoint, type Tokenizer } from "../../mod.ts";
import { readSafetensors } from "../../lib/io/safetensors.ts";
import { caseBatch } from "../../lib/parity/llama_parity.ts";
import { gpuTest, testGpu } from "../_gpu.ts";

const GOLDEN = "testdata/golden/llama-tiny";

/** A tokenizer of the golden model's 64 ids: letters a–z are ids 10–35, BOS 1, EOS 2. */
const letters: Tokenizer = {
  name: "letters",
  vocabSize: 64,
  bos: 1,
  eos: 2,
  encode: (text) => Array.from(text, (c) => c.charCodeAt(0) - 87),
  decode: (ids) =>
    Array.from(ids, (id) => id >= 10 && id < 36 ? String.fromCharCode(id + 87) : `<${id}>`).join(""),
  tokenBytes: (id) => id >= 10 && id < 36 ? 1 : 0,
};

Deno.test({
  name: "mod.ts computeLogits matches the float64 PyTorch logits of the golden case",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const { config, weights } = await loadCheckpoint(GOLDEN);
    const model = LlamaModel.create(gpu, config, weights, { trainBase: false });
    try {
      const ref = await readSafetensors(`${GOLDEN}/case.safetensors`);
      const { batch, seqLen, inputIds } = caseBatch(ref);
      const logits = await computeLogits(model, inputIds, { batch, seqLen });
      const expected = ref.f64("logits");
      assert.equal(logits.length, expected.length);
      let worst = 0;
      for (let i = 0; i < logits.length; i++) worst = Math.max(worst, Math.abs(logits[i]! - expected[i]!));
      assert.ok(worst < 1e-4, `max |Δ| ${worst}`);
      await assert.rejects(
        computeLogits(model, inputIds, { batch, seqLen: seqLen + 1 }),
        /expected batch × seqLen/,
      );
    } finally {
      model.destroy();
    }
  },
});

Deno.test({
  name: "mod.ts generateText continues BOS + prompt greedily, each token the argmax of computeLogits",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const { config, weights } = await loadCheckpoint(GOLDEN);
    const model = LlamaModel.create(gpu, config, weights, { trainBase: false });
    try {
      const prompt = "mora";
      const text = await generateText(model, letters, prompt, { maxNewTokens: 4 });
      // The same by hand: the argmax of the last row, appended, four times (or up to EOS).
      const ids = [letters.bos, ...letters.encode(prompt)];
      const expected: number[] = [];
      for (let i = 0; i < 4; i++) {
        const logits = await computeLogits(model, Uint32Array.from(ids), { batch: 1, seqLen: ids.length });
        const last = logits.subarray((ids.length - 1) * config.vocabSize, ids.length * config.vocabSize);
        const next = last.indexOf(Math.max(...last));
        if (next === letters.eos) break;
        expected.push(next);
        ids.push(next);
      }
      assert.equal(text, letters.decode(expected));
      const wide = { ...letters, vocabSize: 65 };
      await assert.rejects(
        generateText(model, wide, prompt, { maxNewTokens: 1 }),
        /exceed the model's vocabulary/,
      );
    } finally {
      model.destroy();
    }
  },
});

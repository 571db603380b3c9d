import assert from "node:assert/strict";
import { runDispatches } from "../../lib/gpu/kernel.ts";
import { readTensor } from "../../lib/gpu/tensor.ts";
import { loadCheckpoint } from "../../lib/model/checkpoint.ts";
import { buildContinuationScorer } from "../../lib/model/continuation.ts";
import { LlamaModel } from "../../lib/model/llama.ts";
import { buildTrainPlan } from "../../lib/model/train_plan.ts";
import { Rng } from "../_numeric.ts";
import { gpuTest, testGpu } from "../_gpu.ts";

Deno.test({
  name: "continuation logits after a cached context equal the full forward of context and continuation",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const { config, weights } = await loadCheckpoint("testdata/golden/llama-tiny");
    const model = LlamaModel.create(gpu, config, weights, { trainBase: false });
    // Awkward sizes: 3 contexts of 7 tokens and three continuations of 5, each overwriting the cache
    // positions of the one before.
    const batch = 3, contextLen = 7, continuationLen = 5, vocab = config.vocabSize;
    const rng = new Rng(5);
    const ids = (n: number) => Uint32Array.from({ length: n }, () => rng.int(vocab));
    const context = ids(batch * contextLen);
    const continuations = [
      ids(batch * continuationLen),
      ids(batch * continuationLen),
      ids(batch * continuationLen),
    ];
    const scorer = await buildContinuationScorer(model, { batch, contextLen, continuationLen });
    const logits = await scorer.logits(context, continuations);
    scorer.destroy();

    const seqLen = contextLen + continuationLen;
    const plan = await buildTrainPlan(model, { batch, seqLen });
    for (const [k, continuation] of continuations.entries()) {
      const full = new Uint32Array(batch * seqLen);
      for (let b = 0; b < batch; b++) {
        full.set(context.subarray(b * contextLen, (b + 1) * contextLen), b * seqLen);
        full.set(
          continuation.subarray(b * continuationLen, (b + 1) * continuationLen),
          b * seqLen + contextLen,
        );
      }
      plan.writeBatch(full, new Int32Array(full));
      await runDispatches(gpu, plan.forward);
      const expected = await readTensor(plan.logits);
      let worst = 0;
      for (let b = 0; b < batch; b++) {
        for (let i = 0; i < continuationLen; i++) {
          for (let v = 0; v < vocab; v++) {
            const got = logits[k]![(b * continuationLen + i) * vocab + v]!;
            const want = expected[(b * seqLen + contextLen + i) * vocab + v]!;
            worst = Math.max(worst, Math.abs(got - want));
          }
        }
      }
      assert.ok(worst < 1e-4, `continuation ${k}: largest logit difference ${worst}`);
    }
    plan.destroy();
    model.destroy();
  },
});

Deno.test({
  name: "a continuation scorer refuses empty lengths and totals beyond the context, naming the limit",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const { config, weights } = await loadCheckpoint("testdata/golden/llama-tiny");
    const model = LlamaModel.create(gpu, config, weights, { trainBase: false });
    const max = config.maxPositionEmbeddings;
    await assert.rejects(
      buildContinuationScorer(model, { batch: 1, contextLen: max, continuationLen: 1 }),
      new RegExp(`within ${max} \\(max_position_embeddings\\)`),
    );
    await assert.rejects(
      buildContinuationScorer(model, { batch: 1, contextLen: 0, continuationLen: 1 }),
      /at least 1/,
    );
    const scorer = await buildContinuationScorer(model, { batch: 2, contextLen: 3, continuationLen: 2 });
    await assert.rejects(scorer.logits(new Uint32Array(5), []), /expected 2×3/);
    scorer.destroy();
    model.destroy();
  },
});

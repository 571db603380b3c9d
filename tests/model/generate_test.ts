import assert from "node:assert/strict";
import { runDispatches } from "../../lib/gpu/kernel.ts";
import { readTensor } from "../../lib/gpu/tensor.ts";
import { loadCheckpoint } from "../../lib/model/checkpoint.ts";
import { buildGreedyGenerator } from "../../lib/model/generate.ts";
import { LlamaModel } from "../../lib/model/llama.ts";
import { buildTrainPlan } from "../../lib/model/train_plan.ts";
import { greedyArgmaxCpu } from "../../lib/ops/decode.ts";
import { Rng } from "../_numeric.ts";
import { gpuTest, testGpu } from "../_gpu.ts";

Deno.test({
  name: "greedy generation with a KV cache equals re-running the full forward for every token",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const { config, weights } = await loadCheckpoint("testdata/golden/llama-tiny");
    const model = LlamaModel.create(gpu, config, weights, { trainBase: false });
    const batch = 3, promptLen = 5, maxNewTokens = 6;
    const rng = new Rng(11);
    const prompts = Uint32Array.from({ length: batch * promptLen }, () => rng.int(config.vocabSize));
    const generator = await buildGreedyGenerator(model, { batch, promptLen, maxNewTokens });
    const generated = await generator.generate(prompts);
    // Same again: the plan is reusable and deterministic.
    assert.deepEqual(await generator.generate(prompts), generated);
    generator.destroy();

    const sequences = Array.from(
      { length: batch },
      (_, b) => Array.from(prompts.slice(b * promptLen, (b + 1) * promptLen)),
    );
    for (let i = 0; i < maxNewTokens; i++) {
      const seqLen = promptLen + i;
      const plan = await buildTrainPlan(model, { batch, seqLen });
      const ids = Uint32Array.from(sequences.flat());
      plan.writeBatch(ids, new Int32Array(ids));
      await runDispatches(gpu, plan.forward);
      const next = greedyArgmaxCpu(await readTensor(plan.logits), batch, seqLen, config.vocabSize);
      plan.destroy();
      for (let b = 0; b < batch; b++) sequences[b]!.push(next[b]!);
    }
    for (let b = 0; b < batch; b++) {
      assert.deepEqual(Array.from(generated[b]!), sequences[b]!.slice(promptLen), `sequence ${b}`);
    }
    model.destroy();
  },
});

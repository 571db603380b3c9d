import assert from "node:assert/strict";
import { getTokenizer } from "../../lib/data/tokenizer.ts";
import { choiceRows, forwardRows, solutionRow, TaskScorer } from "../../lib/finetune/score.ts";
import { runDispatches } from "../../lib/gpu/kernel.ts";
import { readTensor } from "../../lib/gpu/tensor.ts";
import { initLlamaWeights } from "../../lib/model/init.ts";
import { LlamaModel } from "../../lib/model/llama.ts";
import { buildTrainPlan } from "../../lib/model/train_plan.ts";
import { IGNORE_INDEX } from "../../lib/ops/cross_entropy.ts";
import { gpuTest, testGpu } from "../_gpu.ts";
import { TINY_CONFIG } from "./_tiny.ts";

Deno.test({
  name:
    "option log-likelihoods equal the model's own loss on the option tokens, whatever the batch and padding",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const model = LlamaModel.create(gpu, TINY_CONFIG, initLlamaWeights(TINY_CONFIG, 3), { trainBase: false });
    const tokenizer = getTokenizer("byte");
    const item = {
      context: "Word for: burnt sugar\nA. caramel\nB. spot\nAnswer:",
      options: [" A", " B", " spot on"],
      answer: 0,
    };
    const rows = choiceRows(item, tokenizer);
    const scorer = new TaskScorer(model, tokenizer, 2);
    const ll = await scorer.logLikelihoods(rows);
    for (const [i, row] of rows.entries()) {
      const plan = await buildTrainPlan(model, { batch: 1, seqLen: row.ids.length });
      const labels = new Int32Array(row.ids.length).fill(IGNORE_INDEX);
      for (let t = row.from + 1; t < row.ids.length; t++) labels[t] = row.ids[t]!;
      plan.writeBatch(Uint32Array.from(row.ids), labels);
      await runDispatches(gpu, plan.forward);
      const [mean, count] = await readTensor(plan.stats);
      assert.equal(count, row.ids.length - row.from - 1);
      assert.ok(Math.abs(ll[i]! + mean! * count!) < 1e-3, `${ll[i]} vs ${-mean! * count!}`);
      plan.destroy();
    }
    // A solution's perplexity is exp of the mean loss on its tokens and EOS, as the model computes it.
    const problem = { prompt: "Question: 2+2?\nAnswer:", answer: "4", solution: " 2+2=4.\n#### 4" };
    const solvedRow = solutionRow(problem, tokenizer);
    assert.equal(solvedRow.ids.at(-1), tokenizer.eos);
    const plan = await buildTrainPlan(model, { batch: 1, seqLen: solvedRow.ids.length });
    const labels = new Int32Array(solvedRow.ids.length).fill(IGNORE_INDEX);
    for (let t = solvedRow.from + 1; t < solvedRow.ids.length; t++) labels[t] = solvedRow.ids[t]!;
    plan.writeBatch(Uint32Array.from(solvedRow.ids), labels);
    await runDispatches(gpu, plan.forward);
    const [meanLoss] = await readTensor(plan.stats);
    const ppl = await scorer.solutionPerplexity([problem, { prompt: "x", answer: "1" }]);
    assert.ok(Math.abs(Math.log(ppl!) - meanLoss!) < 1e-4, `${Math.log(ppl!)} vs ${meanLoss}`);
    assert.equal(await scorer.solutionPerplexity([{ prompt: "x", answer: "1" }]), undefined);
    plan.destroy();
    // The right option is the one of highest likelihood.
    const best = ll.indexOf(Math.max(...ll));
    assert.equal(await scorer.choiceAccuracy([{ ...item, answer: best }]), 1);
    assert.equal(await scorer.choiceAccuracy([{ ...item, answer: (best + 1) % 3 }]), 0);
    scorer.destroy();
    model.destroy();
  },
});

Deno.test({
  name: "options continued from the context's KV cache score as the full pass does, on any mix of items",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const model = LlamaModel.create(gpu, TINY_CONFIG, initLlamaWeights(TINY_CONFIG, 4), { trainBase: false });
    const tokenizer = getTokenizer("byte");
    // Three items of one context length (batch 2: two chunks), one shorter, one of five options of unequal
    // lengths, and one whose options differ only in their last byte (the shared-pass path).
    const items = [
      { context: "the licence grants", options: [" right", " leave", " grant", " north"], answer: 0 },
      { context: "the licence covers", options: [" works", " birds", " tasks", " flows"], answer: 0 },
      { context: "a permission notice", options: [" shall", " might", " wills", " ought"], answer: 0 },
      { context: "copyright", options: [" holder", " owners", " makers", " buyers", " banker"], answer: 0 },
      { context: "of the Software", options: [" and", " or", " without", " in"], answer: 0 },
      { context: "Answer:", options: [" A", " B", " C", " D"], answer: 0 },
    ];
    const scorer = new TaskScorer(model, tokenizer, 2);
    const continued = await scorer.optionLogLikelihoods(items);
    const passed = await scorer.logLikelihoods(items.flatMap((item) => choiceRows(item, tokenizer)));
    assert.deepEqual(continued.map((ll) => ll.length), items.map((item) => item.options.length));
    continued.flat().forEach((ll, i) =>
      assert.ok(Math.abs(ll - passed[i]!) < 1e-3, `row ${i}: ${ll} vs ${passed[i]}`)
    );
    scorer.destroy();
    model.destroy();
  },
});

Deno.test("rows that differ only in their last token share one pass without it; others get their own", () => {
  const tokenizer = getTokenizer("byte");
  const letters = choiceRows(
    { context: "Q\nAnswer:", options: [" A", " B", " C", " D"], answer: 0 },
    tokenizer,
  );
  const other = choiceRows({ context: "R\nAnswer:", options: [" A", " B"], answer: 0 }, tokenizer);
  const words = choiceRows({ context: "Q\nAnswer:", options: [" A", " spot"], answer: 0 }, tokenizer);
  const { passes, passOf } = forwardRows([...letters, ...other, ...words]);
  assert.deepEqual(passOf, [0, 0, 0, 0, 1, 1, 0, 2]);
  assert.deepEqual(passes[0], letters[0]!.ids.slice(0, -1));
  assert.deepEqual(passes[2], words[1]!.ids.slice(0, -1));
  assert.equal(passes.length, 3);
});

import assert from "node:assert/strict";
import {
  finalAnswer,
  mathPrompt,
  mmluItems,
  mmluPrompt,
  normalizeAnswer,
} from "../../lib/finetune/format.ts";
import { argmax, bucket, exactMatch, logProb } from "../../lib/finetune/score.ts";

Deno.test("final answers: GSM8K's ####, MetaMath's The answer is, normalized", () => {
  assert.equal(finalAnswer("2+1=3 bolts\n#### 3"), "3");
  assert.equal(finalAnswer("so $70,000\n#### 70,000"), "70000");
  assert.equal(finalAnswer("She earned $10.\nThe answer is: 10"), "10");
  assert.equal(finalAnswer("The answer is $1,234."), "1234");
  assert.equal(finalAnswer("no answer here"), undefined);
  assert.equal(normalizeAnswer(" $5. "), "5");
  assert.equal(normalizeAnswer("3.5"), "3.5");
});

Deno.test("exact match compares final answers only", () => {
  assert.equal(exactMatch([" 1+2=3.\n#### 3", " 1+2=4.\n#### 4", "#### 30"], ["3", "3", "3"]), 1 / 3);
});

Deno.test("MMLU layout: lettered options and Answer:, k-shot prompts with solved questions", () => {
  assert.equal(mmluPrompt("Q?", ["w", "x", "y", "z"]), "Q?\nA. w\nB. x\nC. y\nD. z\nAnswer:");
  const q = (n: number) => ({ question: `Q${n}`, options: ["a", "b", "c", "d"], answer: n % 4 });
  const [zero] = mmluItems([q(9)], [q(0), q(1)], 0);
  assert.equal(zero!.context, mmluPrompt("Q9", ["a", "b", "c", "d"]));
  assert.equal(zero!.answer, 1);
  const [two] = mmluItems([q(9)], [q(0), q(1)], 2);
  assert.equal(
    two!.context,
    `${mmluPrompt("Q0", ["a", "b", "c", "d"])} A\n\n${mmluPrompt("Q1", ["a", "b", "c", "d"])} B\n\n${
      zero!.context
    }`,
  );
  assert.throws(() => mmluItems([q(9)], [q(0)], 5), /Cannot make 5-shot prompts from 1 solved question/);
  assert.equal(mathPrompt("2+2?"), "Question: 2+2?\nAnswer:");
});

Deno.test("scoring helpers: log-probabilities, argmax ties to the first, length buckets", () => {
  const logits = Float32Array.from([0, Math.log(3), 0, 0]);
  assert.ok(Math.abs(logProb(logits, 0, 4, 1) - Math.log(0.5)) < 1e-6);
  assert.ok(Math.abs(logProb(logits, 2, 2, 0) - Math.log(0.5)) < 1e-6);
  assert.equal(argmax([1, 3, 3, 2]), 1);
  assert.equal(bucket(1), 32);
  assert.equal(bucket(32), 32);
  assert.equal(bucket(33), 64);
});

import assert from "node:assert/strict";
import { loadTaskData } from "../../lib/finetune/data.ts";
import { FINETUNE_PRESETS } from "../../lib/finetune/presets.ts";
import {
  parseCsv,
  readMathTest,
  readMathTrain,
  readMmlu,
  readMmluCsv,
  readPlainText,
  readTuluChat,
} from "../../lib/finetune/readers.ts";

const DATA = "testdata/finetune/data";
const BAD = "testdata/finetune/bad";

Deno.test("MetaMath JSONL: query/response in the math template, with their lines", async () => {
  const examples = await readMathTrain(`${DATA}/math/train.jsonl`);
  assert.equal(examples.length, 2);
  assert.match(examples[0]!.prompt, /^Question: Natalia sold clips.*\nAnswer:$/s);
  assert.match(examples[0]!.completion, /^ Natalia sold 48\/2 = 24 clips.*The answer is: 72$/s);
  assert.equal(examples[1]!.source, `${DATA}/math/train.jsonl:2`);
});

Deno.test("GSM8K JSONL: question/answer as training data and as held-out problems (#### answer)", async () => {
  const train = await readMathTrain(`${DATA}/math/gsm8k.jsonl`);
  assert.match(train[0]!.completion, /#### 18$/);
  const test = await readMathTest(`${DATA}/math/gsm8k.jsonl`);
  assert.deepEqual(test.map((t) => t.answer), ["18", "3"]);
  // The held-out solution is the answer field as a training completion.
  assert.equal(test[0]!.solution, train[0]!.completion);
  assert.equal(test[1]!.source, `${DATA}/math/gsm8k.jsonl:3`, "a blank line is skipped but counted");
  assert.deepEqual((await readMathTest(`${DATA}/math/math.jsonl`)).map((t) => t.answer), ["70000"]);
});

Deno.test("Tulu chat JSONL: the last assistant turn is the completion, earlier turns the prompt", async () => {
  const [single, multi] = await readTuluChat(`${DATA}/instruction/train.jsonl`);
  assert.equal(single!.completion, "no");
  assert.match(single!.prompt, /^<\|user\|>\nIs the following sentence.*\n<\|assistant\|>\n$/s);
  assert.equal(multi!.completion, "11");
  assert.equal(
    multi!.prompt,
    "<|system|>\nYou are terse.\n<|user|>\nName a prime.\n<|assistant|>\n7\n<|user|>\nAnother?\n<|assistant|>\n",
  );
});

Deno.test("MMLU CSV: quoted fields with commas, quotes and newlines; zero- and 5-shot from the dev file", async () => {
  const test = await readMmluCsv(`${DATA}/instruction/mmlu/test/abstract_algebra_test.csv`);
  assert.equal(test.length, 3);
  assert.deepEqual(test[1]!.options, ["8", "2", "24", "120"]);
  assert.equal(test[1]!.answer, 2);
  assert.equal(test[2]!.question, 'A question whose text spans\ntwo lines, with "quotes".');
  assert.equal(test[2]!.answer, 3);
  assert.equal(test[2]!.source, `${DATA}/instruction/mmlu/test/abstract_algebra_test.csv:3`);
  const { zeroShot, fiveShot } = await readMmlu(`${DATA}/instruction/mmlu`);
  assert.equal(zeroShot.length, 3);
  assert.match(zeroShot[0]!.context, /^Find the degree.*\nA\. 0\nB\. 4\nC\. 2\nD\. 6\nAnswer:$/s);
  assert.equal(fiveShot[0]!.context.split("\nAnswer: ").length - 1, 5);
  assert.ok(fiveShot[0]!.context.startsWith("Find all c in Z_3"));
  assert.deepEqual(parseCsv('a,"b\r\nc",d\r\n\r\ne\n', "x"), [
    { value: ["a", "b\r\nc", "d"], at: "x:1" },
    { value: ["e"], at: "x:4" },
  ]);
});

Deno.test("plain text: one document per blank-line-separated block", async () => {
  const docs = await readPlainText(`${DATA}/biomed/train.txt`);
  assert.equal(docs.length, 2);
  assert.match(docs[0]!.text, /^Aspirin.*\nPatients receiving/s);
  assert.equal(docs[1]!.source, `${DATA}/biomed/train.txt:4`);
});

Deno.test("bad files: a clear error with the path and the line", async () => {
  await assert.rejects(() => readMathTrain(`${BAD}/not_json.jsonl`), /bad\/not_json\.jsonl:2 is not JSON/);
  await assert.rejects(
    () => readMathTest(`${BAD}/missing_field.jsonl`),
    /missing_field\.jsonl:1 has no non-empty string "answer"/,
  );
  await assert.rejects(() => readMathTest(`${BAD}/no_final.jsonl`), /no_final\.jsonl:1 has no final answer/);
  await assert.rejects(() => readMathTrain(`${BAD}/empty.jsonl`), /empty\.jsonl" is empty/);
  await assert.rejects(() => readMathTrain(`${BAD}/absent.jsonl`), /absent\.jsonl" does not exist/);
  await assert.rejects(() => readMmluCsv(`${BAD}/bad_answer.csv`), /bad_answer\.csv:2 has 5 field\(s\)/);
  await assert.rejects(
    () => readMmluCsv(`${BAD}/unclosed.csv`),
    /a quoted field starting by line 1 never ends/,
  );
  await assert.rejects(
    () => readTuluChat(`${BAD}/tulu_one_turn.jsonl`),
    /tulu_one_turn\.jsonl:2 needs "messages"/,
  );
  await assert.rejects(
    () => readTuluChat(`${BAD}/tulu_last_user.jsonl`),
    /:1 does not end with an assistant message/,
  );
  await assert.rejects(() => readMmlu(BAD), /holds no <subject>_test\.csv file/);
});

Deno.test("--data: every task reads its files in the documented layout", async () => {
  const preset = {
    ...FINETUNE_PRESETS.paper!,
    sizes: { ...FINETUNE_PRESETS.paper!.sizes, domain: { heldOut: 0, cloze: 1, clozePerDocument: 4 } },
  };
  const instruction = await loadTaskData("instruction", preset, DATA);
  assert.equal(instruction.family, "instruction");
  const math = await loadTaskData("math", preset, DATA);
  assert.ok(math.family === "math" && math.tiers.map((t) => t.items.length).join() === "2,1");
  const biomed = await loadTaskData("biomed", preset, DATA);
  assert.ok(biomed.family === "domain" && biomed.cloze.length === 1 && biomed.heldOut.length === 2);
  await assert.rejects(() => loadTaskData("chemistry", preset, DATA), /Unknown fine-tuning task "chemistry"/);
});

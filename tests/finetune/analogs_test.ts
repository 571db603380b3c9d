import assert from "node:assert/strict";
import { loadCorpus, splitCorpus } from "../../lib/data/corpus.ts";
import { clozeItems, vocabularyByLength } from "../../lib/finetune/cloze.ts";
import {
  domainData,
  economyDocuments,
  factbookWithoutEconomy,
  licenceDocuments,
} from "../../lib/finetune/domain_analog.ts";
import { finalAnswer } from "../../lib/finetune/format.ts";
import { instructionFromGlosses, shortGlosses } from "../../lib/finetune/instruction_analog.ts";
import { MATH_TIERS, mathAnalog, mathProblem } from "../../lib/finetune/math_analog.ts";
import { SeededRandom } from "../../lib/random.ts";

/** Checks every `a op b = c.` equation of a solution and returns the chain's last value. */
function checkEquations(solution: string): string {
  let last = "";
  for (const [, a, op, b, c] of solution.matchAll(/(\d+)([-+*/])(\d+)=(\d+)\./g)) {
    const [x, y] = [Number(a), Number(b)];
    const value = op === "+" ? x + y : op === "-" ? x - y : op === "*" ? x * y : x / y;
    assert.equal(value, Number(c), `${a}${op}${b}=${c}`);
    if (last !== "") assert.equal(a, last, "each step starts from the previous result");
    last = c!;
  }
  return last;
}

Deno.test("math problems: every equation is right, the chain ends in the #### answer, the MATH tier is longer", () => {
  const rng = new SeededRandom(3, "test");
  for (const tier of MATH_TIERS) {
    for (let i = 0; i < 200; i++) {
      const p = mathProblem(rng, tier);
      assert.equal(checkEquations(p.solution), p.answer);
      assert.equal(finalAnswer(p.solution), p.answer);
      assert.equal(p.solution.split("=").length - 1, tier.steps);
      assert.ok(Number(p.answer) >= 0 && Number.isInteger(Number(p.answer)));
    }
  }
  assert.ok(MATH_TIERS[1]!.steps > MATH_TIERS[0]!.steps && MATH_TIERS[1]!.start[1] > MATH_TIERS[0]!.start[1]);
});

Deno.test("math analog: seeded, both tiers train, held-out questions are never training questions", () => {
  const a = mathAnalog({ train: 50, test: 20 }, 0), b = mathAnalog({ train: 50, test: 20 }, 0);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, mathAnalog({ train: 50, test: 20 }, 1));
  assert.equal(a.train.length, 100);
  const trained = new Set(a.train.map((e) => e.prompt));
  for (const tier of a.tiers) {
    assert.equal(tier.items.length, 20);
    for (const item of tier.items) {
      assert.ok(!trained.has(item.prompt), item.prompt);
      // Its worked solution, in the training completion's form, ends in its answer.
      assert.match(item.solution!, new RegExp(`^ .*\n#### ${item.answer}$`, "s"));
      assert.equal(checkEquations(item.solution!), item.answer);
    }
  }
});

Deno.test("instruction analog: WordNet glosses parsed, questions disjoint, the lemma is the right option", () => {
  const doc = {
    text: [
      "caramel, burnt sugar: burnt sugar; used to color and flavor food",
      "kitten, kitty: young domestic cat",
      "Hello: capitalized lemma is skipped",
      "toolongword: a word too long to ask",
      "cat: feline mammal",
      "dog: a pet canid",
      "owl: a night bird",
      "elm: a shade tree",
      "fig: a fruit tree",
      "ash: a hardwood tree",
      "oak: a Quercus tree",
      "yew: a conifer tree",
    ].join("\n"),
  };
  const glosses = shortGlosses([doc]);
  assert.deepEqual(glosses[0], { lemma: "caramel", gloss: "burnt sugar" });
  assert.ok(!glosses.some((g) => g.lemma === "Hello" || g.lemma === "toolongword"));
  const data = instructionFromGlosses(glosses, { train: 2, test: 2 }, 0);
  assert.equal(data.train.length, 2);
  assert.equal(data.zeroShot.length, 2);
  for (const [i, item] of data.zeroShot.entries()) {
    assert.deepEqual(item.options, [" A", " B", " C", " D"]);
    const letter = "ABCD"[item.answer]!;
    const word = new RegExp(`\\n${letter}\\. (\\w+)`).exec(item.context)![1]!;
    const gloss = /Word for: (.*)\n/.exec(item.context)![1]!;
    assert.ok(glosses.some((g) => g.lemma === word && g.gloss === gloss), `${word} is defined by ${gloss}`);
    // The 5-shot prompt is five solved questions, then the same question.
    const five = data.fiveShot[i]!;
    assert.ok(five.context.endsWith(item.context));
    assert.equal(five.context.split("\nAnswer: ").length - 1, 5);
  }
  const asked = [...data.zeroShot, ...data.fiveShot.map((f) => ({ context: f.context.split("\n\n")[0]! }))]
    .map((x) => /Word for: (.*)/.exec(x.context)![1]);
  for (const e of data.train) assert.ok(!asked.includes(/Word for: (.*)/.exec(e.prompt)![1]));
  assert.throws(
    () => instructionFromGlosses(glosses, { train: 20, test: 20 }, 0),
    /Cannot make 45 questions/,
  );
});

Deno.test("instruction analog facts are in the base's pretraining split of the corpus", async () => {
  const { train, validation } = splitCorpus(await loadCorpus({ sources: ["wordnet"] }));
  const glosses = shortGlosses(train);
  assert.ok(glosses.length > 1000, `${glosses.length} short glosses`);
  // Every asked gloss is a line of a training document, none only of a held-out one.
  const trained = train.map((d) => d.text).join("\n");
  for (const g of glosses.slice(0, 300)) assert.match(trained, new RegExp(`(^|\n)${g.lemma}[,:]`));
  const heldOut = new Set(shortGlosses(validation).map((g) => `${g.lemma}: ${g.gloss}`));
  assert.ok(!glosses.some((g) => heldOut.has(`${g.lemma}: ${g.gloss}`) && !trained.includes(g.gloss)));
});

Deno.test("finance analog: the base's Factbook holds no Economy section; each Economy section is a document", async () => {
  const economy = await economyDocuments();
  assert.ok(economy.length > 200);
  assert.ok(economy.every((d) => d.text.includes("\n\nEconomy\n")));
  const base = await factbookWithoutEconomy();
  assert.ok(base.every((d) => !d.text.includes("\n\nEconomy\n")));
  const sample = economy[10]!.text.split("\n").find((l) => l.startsWith("Economy - overview"));
  assert.ok(sample && !base.some((d) => d.text.includes(sample)));
});

Deno.test("licence analog: SPDX texts, none of them in the corpus sources", async () => {
  const docs = licenceDocuments();
  assert.ok(docs.length > 500);
  const mit = docs.find((d) => d.source === "spdx/MIT")!;
  assert.match(mit.text, /Permission is hereby granted, free of charge/);
  const corpus = await loadCorpus();
  assert.ok(!corpus.some((d) => d.text.includes("Permission is hereby granted, free of charge")));
});

Deno.test("cloze: the blank is the held-out word, options share its length, distractors from training text", () => {
  const train = [{ text: "alpha bravo delta gamma omega sigma kappa theta" }];
  const heldOut = [{ text: "a long held-out sentence that has enough words before the gamma and after it" }];
  const items = clozeItems(heldOut, vocabularyByLength(train), {
    count: 2,
    perDocument: 2,
    contextChars: 20,
    seed: 0,
  });
  for (const item of items) {
    const word = item.options[item.answer]!;
    assert.ok(heldOut[0]!.text.includes(item.context + word));
    assert.equal(item.context.length, 20);
    assert.equal(new Set(item.options).size, 4);
    for (const o of item.options) assert.equal(o.length, word.length);
  }
  assert.throws(
    () =>
      clozeItems(heldOut, vocabularyByLength(train), {
        count: 50,
        perDocument: 50,
        contextChars: 20,
        seed: 0,
      }),
    /Cannot make 50 cloze items from 1 held-out document/,
  );
});

Deno.test("domain data: held-out documents are not trained on", () => {
  const docs = Array.from({ length: 30 }, (_, i) => ({
    text: `document ${i} ${"about several things ".repeat(8)} words ${
      ["apple", "bread", "chair", "drink"][i % 4]
    }`,
  }));
  const d = domainData(docs, 5, { count: 3, perDocument: 1, contextChars: 40 }, 0);
  assert.equal(d.heldOut.length, 5);
  assert.equal(d.train.length, 25);
  for (const h of d.heldOut) assert.ok(!d.train.includes(h));
  assert.throws(
    () => domainData(docs, 30, { count: 1, perDocument: 1, contextChars: 4 }, 0),
    /hold out fewer/,
  );
});

Deno.test("a domain's fixed sample: the same windows in the same order every pass", async () => {
  const { cyclicWindows } = await import("../../lib/finetune/batches.ts");
  const stream = Uint32Array.from({ length: 40 }, (_, i) => i);
  const batches = cyclicWindows(stream, { windows: 4, batchSize: 2, seqLen: 5 });
  const seen = Array.from({ length: 4 }, () => [...batches.next().value.inputIds]);
  assert.deepEqual(seen[0], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual(seen[1], [10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
  assert.deepEqual(seen[2], seen[0]);
  assert.deepEqual(seen[3], seen[1]);
  assert.throws(
    () => cyclicWindows(stream, { windows: 3, batchSize: 2, seqLen: 5 }).next(),
    /make it a multiple/,
  );
  assert.throws(
    () => cyclicWindows(stream, { windows: 10, batchSize: 2, seqLen: 5 }).next(),
    /give more text/,
  );
});

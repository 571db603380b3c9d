import assert from "node:assert/strict";
import { byteTokenizer, gpt2Tokenizer } from "../../lib/data/tokenizer.ts";
import { SeededRandom } from "../../lib/random.ts";
import { makeUuidPairs, tokenizePairs, uuidBatches, uuidSeqLen, uuidV4 } from "../../lib/uuid/data.ts";
import { charAccuracy } from "../../lib/uuid/score.ts";
import type { UuidRunRecord } from "../../lib/uuid/experiment.ts";
import { meanOverSeeds } from "../../lib/report/uuid_section.ts";

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

Deno.test("uuidV4 makes RFC 4122 version-4 UUIDs, deterministic in the seed", () => {
  const rng = new SeededRandom(1, "t");
  for (let i = 0; i < 200; i++) assert.match(uuidV4(rng), UUID_V4);
  assert.deepEqual(makeUuidPairs(5, 3), makeUuidPairs(5, 3));
  assert.notDeepEqual(makeUuidPairs(5, 3), makeUuidPairs(5, 4));
  assert.equal(new Set(makeUuidPairs(300, 0).map((p) => p.key)).size, 300);
  assert.throws(() => makeUuidPairs(0, 0), /positive integer/);
});

Deno.test("examples are BOS + key:value, prompts BOS + key:", () => {
  const pairs = makeUuidPairs(3, 0);
  const [e] = tokenizePairs(pairs, byteTokenizer);
  assert.equal(e!.ids.length, 1 + 36 + 1 + 36);
  assert.equal(e!.ids[0], byteTokenizer.bos);
  assert.equal(byteTokenizer.decode(e!.ids.slice(1)), `${pairs[0]!.key}:${pairs[0]!.value}`);
  assert.deepEqual(e!.promptIds, e!.ids.slice(0, 38));
  // GPT-2 splits UUIDs into a varying number of tokens: sequences are padded to the longest.
  const gpt2 = tokenizePairs(makeUuidPairs(20, 0), gpt2Tokenizer);
  assert.equal(uuidSeqLen(gpt2), Math.max(...gpt2.map((x) => x.ids.length)));
});

Deno.test("batches cover every pair once per epoch and pad with ignored labels", () => {
  const examples = tokenizePairs(makeUuidPairs(6, 0), byteTokenizer);
  const seqLen = 80;
  const batches = uuidBatches(examples, { batchSize: 4, seqLen, seed: 0, pad: 3 });
  const seen: string[] = [];
  for (let b = 0; b < 3; b++) {
    const { inputIds, labels } = batches.next().value;
    for (let row = 0; row < 4; row++) {
      seen.push(inputIds.slice(row * seqLen, row * seqLen + 74).join(","));
      assert.equal(labels[row * seqLen + 74], -100);
      assert.equal(inputIds[row * seqLen + 74], 3);
      assert.equal(labels[row * seqLen + 5], inputIds[row * seqLen + 5]);
    }
  }
  // 12 rows = two epochs of 6 pairs: each pair exactly twice.
  const counts = new Map<string, number>();
  for (const s of seen) counts.set(s, (counts.get(s) ?? 0) + 1);
  assert.deepEqual([...counts.values()], [2, 2, 2, 2, 2, 2]);
});

Deno.test("character accuracy counts same-position characters of the expected value", () => {
  assert.equal(charAccuracy("abcd", "abcd"), 1);
  assert.equal(charAccuracy("abxd", "abcd"), 0.75);
  assert.equal(charAccuracy("ab", "abcd"), 0.5);
  assert.equal(charAccuracy("", "abcd"), 0);
});

Deno.test("curves over several seeds are averaged into one point per run and step", () => {
  const record = (seed: number, loss: number) =>
    ({
      id: `x${seed}`,
      spec: { preset: "quick", method: "lora", rank: 8, seed, lr: 0.01, base: "b" },
      trainableParams: 1,
      losses: [{ step: 1, loss }, { step: 2, loss: loss / 2 }],
      evals: [],
      msPerStep: 1,
    }) as UuidRunRecord;
  const points = meanOverSeeds(
    [record(0, 2), record(1, 4)],
    (r) => r.losses.map((l) => ({ step: l.step, value: l.loss })),
  );
  assert.deepEqual(points, [
    { run: "LoRA r=8", step: 1, value: 3, seeds: 2 },
    { run: "LoRA r=8", step: 2, value: 1.5, seeds: 2 },
  ]);
});

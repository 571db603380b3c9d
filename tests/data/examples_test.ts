import assert from "node:assert/strict";
import { join } from "node:path";
import { exampleBatches, readExamples } from "../../lib/data/examples.ts";
import { byteTokenizer as bytes } from "../../lib/data/tokenizer.ts";
import { IGNORE_INDEX } from "../../lib/ops/cross_entropy.ts";

/** Writes `text` to a file called `name` in a fresh folder and runs `body` on its path. */
async function withFile(name: string, text: string, body: (path: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(dir, name), text);
    await body(join(dir, name));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const ids = (text: string) => bytes.encode(text);

Deno.test("plain text is one document, packed into windows of seqLen after a BOS", async () => {
  await withFile("notes.txt", "abcdefgh", async (path) => {
    const examples = await readExamples(path, bytes, 4);
    // A last window of one token predicts nothing and is dropped.
    assert.deepEqual(examples.map((e) => e.ids), [[bytes.bos, ...ids("abc")], ids("defg")]);
    assert.deepEqual(examples.map((e) => e.labels), examples.map((e) => e.ids));
  });
});

Deno.test("JSONL text lines are documents, each after its own BOS, packed together", async () => {
  await withFile("docs.jsonl", '{"text": "ab"}\n\n{"text": "cd"}\n', async (path) => {
    const examples = await readExamples(path, bytes, 8);
    assert.deepEqual(examples.map((e) => e.ids), [[bytes.bos, ...ids("ab"), bytes.bos, ...ids("cd")]]);
  });
});

Deno.test("prompt/response pairs take the loss on the response and EOS only", async () => {
  await withFile("pairs.jsonl", '{"prompt": "Q:", "response": "yes"}\n', async (path) => {
    const [example] = await readExamples(path, bytes, 16);
    assert.deepEqual(example!.ids, [bytes.bos, ...ids("Q:yes"), bytes.eos]);
    const I = IGNORE_INDEX;
    assert.deepEqual(example!.labels, [I, I, I, ...ids("yes"), bytes.eos]);
    await assert.rejects(
      readExamples(path, bytes, 4),
      /Line 1 of ".*" is 7 tokens with BOS and EOS, longer than --seq 4/,
    );
  });
});

Deno.test("bad data files are refused, naming the line", async () => {
  await withFile("bad.jsonl", '{"text": "a"}\n{"prompt": "p"}\n', async (path) => {
    await assert.rejects(readExamples(path, bytes, 8), /Line 2 of ".*" has neither a string "text" nor/);
  });
  await withFile("mixed.jsonl", '{"text": "a"}\n{"prompt": "p", "response": "r"}\n', async (path) => {
    await assert.rejects(readExamples(path, bytes, 8), /Line 1 of .* is a "text" document but other lines/);
  });
  await withFile("broken.jsonl", "{not json\n", async (path) => {
    await assert.rejects(readExamples(path, bytes, 8), /Line 1 of ".*" is not valid JSON/);
  });
  await withFile("empty.txt", "", async (path) => {
    await assert.rejects(readExamples(path, bytes, 8), /gives no training example/);
  });
});

Deno.test("batch i of a run is the same whatever batch the generator starts at (resume)", () => {
  const examples = Array.from({ length: 5 }, (_, i) => ({ ids: [i + 10, i + 20], labels: [i + 10, i + 20] }));
  const options = { batchSize: 2, seqLen: 3, seed: 7, pad: 0 };
  const straight = exampleBatches(examples, { ...options, start: 0 });
  const all = Array.from({ length: 7 }, () => straight.next().value);
  const resumed = exampleBatches(examples, { ...options, start: 4 });
  for (let i = 4; i < 7; i++) assert.deepEqual(resumed.next().value, all[i]);
  // Rows are right-padded with ignored labels; an epoch (3 batches here, wrapping) visits every example.
  assert.deepEqual(Array.from(all[0]!.labels.subarray(2, 3)), [IGNORE_INDEX]);
  const firstEpoch = all.slice(0, 3).flatMap((b) => [b.inputIds[0]!, b.inputIds[3]!]).slice(0, 5);
  assert.deepEqual(firstEpoch.sort(), [10, 11, 12, 13, 14]);
});

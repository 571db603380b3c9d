import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import {
  loadTokenizerDir,
  parseTokenizerFiles,
  TOKENIZER_CONFIG_FILE,
  tokenizerFiles,
} from "../../lib/data/hf_tokenizer.ts";
import { byteTokenizer, gpt2Tokenizer, llamaByteTokenizer } from "../../lib/data/tokenizer.ts";

const fixtureDir = fileURLToPath(new URL("../../testdata/hf-llama-tiny", import.meta.url));

Deno.test("a LLaMA tokenizer.json gives its own sentencepiece-BPE ids (merges, byte fallback, BOS/EOS)", async () => {
  const tokenizer = (await loadTokenizerDir(fixtureDir))!;
  assert.equal(tokenizer.bos, 1);
  assert.equal(tokenizer.eos, 2);
  assert.equal(tokenizer.vocabSize, 277);
  // "▁hello▁world" after the Prepend/Replace normalizer, merged by rank into two pieces.
  assert.deepEqual(tokenizer.encode("hello world"), [271, 276]);
  // "▁" is a piece; H, i and ! are not, so they fall back to <0x48>, <0x69>, <0x21> (3 + byte).
  assert.deepEqual(tokenizer.encode("Hi!"), [259, 3 + 0x48, 3 + 0x69, 3 + 0x21]);
  assert.equal(tokenizer.decode([1, 271, 276, 2]), "hello world");
  assert.equal(tokenizer.decode(tokenizer.encode("héllo wörld")), "héllo wörld");
  assert.equal(tokenizer.tokenBytes(1), 0); // BOS stands for no text
  assert.equal(tokenizer.tokenBytes(3 + 0x48), 1);
  assert.equal(tokenizer.tokenBytes(276), 6); // "▁world" is " world"
});

Deno.test("a folder without tokenizer.json has no tokenizer of its own", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assert.equal(await loadTokenizerDir(dir), undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the built-in tokenizers' tokenizer.json give their exact ids, and read back as the built-in", async () => {
  const text = "Hello wörld 😀\n\t<s></s> Ă end";
  const readme = await Deno.readTextFile(new URL("../../README.md", import.meta.url));
  for (const builtin of [byteTokenizer, llamaByteTokenizer, gpt2Tokenizer]) {
    const files = tokenizerFiles(builtin);
    assert.equal(parseTokenizerFiles(files, "exported"), builtin);
    // Without the marker, @huggingface/tokenizers itself reads the file: the same ids and text.
    const config = JSON.parse(files[TOKENIZER_CONFIG_FILE]!);
    delete config.mora_webgpu_tokenizer;
    const hf = parseTokenizerFiles({ ...files, [TOKENIZER_CONFIG_FILE]: JSON.stringify(config) }, "plain");
    assert.deepEqual(hf.encode(text), builtin.encode(text), builtin.name);
    assert.deepEqual(hf.encode(readme), builtin.encode(readme), `${builtin.name}: README.md`);
    assert.equal(hf.decode(hf.encode(text)), text);
    assert.equal(hf.bos, builtin.bos);
    assert.equal(hf.eos, builtin.eos);
  }
});

Deno.test("a tokenizer without a BOS token in its vocabulary is refused, naming the field", () => {
  const files = tokenizerFiles(byteTokenizer);
  const config = JSON.stringify({ bos_token: "<nope>", eos_token: "\u0103" });
  assert.throws(
    () => parseTokenizerFiles({ ...files, [TOKENIZER_CONFIG_FILE]: config }, "broken"),
    /Tokenizer "broken" has no bos_token \(<nope> is not in its vocabulary\); set "bos_token"/,
  );
});

Deno.test("a tokenizer.json the library cannot read is named, not a stack trace", () => {
  const files = { "tokenizer.json": JSON.stringify({ model: { type: "NoSuchModel" } }) };
  assert.throws(
    () => parseTokenizerFiles(files, "odd"),
    (e: Error) =>
      e instanceof SyntaxError && /Tokenizer "odd\/tokenizer.json" cannot be read/.test(e.message),
  );
});

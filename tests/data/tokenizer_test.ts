import assert from "node:assert/strict";
import { byteTokenizer, getTokenizer, gpt2Tokenizer, type Tokenizer } from "../../lib/data/tokenizer.ts";

const SAMPLES = ["", "Hello world", "héllo 😀 世界\n\tdone", "e\u0301 ∑ x² — “quoted”"];

function utf8Length(text: string): number {
  return new TextEncoder().encode(text).length;
}

for (const tokenizer of [byteTokenizer, gpt2Tokenizer]) {
  Deno.test(`${tokenizer.name} tokenizer round-trips unicode and the empty string`, () => {
    for (const text of SAMPLES) assert.equal(tokenizer.decode(tokenizer.encode(text)), text);
    assert.deepEqual(tokenizer.encode(""), []);
  });

  Deno.test(`${tokenizer.name} tokenizer ids are in the vocabulary and token bytes add up to UTF-8 length`, () => {
    for (const text of SAMPLES) {
      const ids = tokenizer.encode(text);
      assert.ok(ids.every((id) => Number.isInteger(id) && id >= 0 && id < tokenizer.vocabSize));
      assert.equal(ids.reduce((sum, id) => sum + tokenizer.tokenBytes(id), 0), utf8Length(text), text);
    }
    assert.equal(tokenizer.tokenBytes(tokenizer.bos), 0);
    assert.equal(tokenizer.tokenBytes(tokenizer.eos), 0);
  });
}

Deno.test("byte tokenizer: one id per UTF-8 byte, BOS 0x02 and EOS 0x03 inside vocab 256", () => {
  assert.equal(byteTokenizer.vocabSize, 256);
  assert.equal(byteTokenizer.bos, 0x02);
  assert.equal(byteTokenizer.eos, 0x03);
  assert.deepEqual(byteTokenizer.encode("aé"), [0x61, 0xc3, 0xa9]);
});

Deno.test("gpt2 tokenizer matches known GPT-2 encodings and uses <|endoftext|> as BOS and EOS", () => {
  assert.equal(gpt2Tokenizer.vocabSize, 50257);
  assert.equal(gpt2Tokenizer.bos, 50256);
  assert.equal(gpt2Tokenizer.eos, 50256);
  assert.deepEqual(gpt2Tokenizer.encode("Hello world"), [15496, 995]);
  assert.deepEqual(gpt2Tokenizer.encode(" the"), [262]);
  assert.equal(gpt2Tokenizer.decode([50256]), "<|endoftext|>");
});

Deno.test("gpt2 tokenizer encodes a literal <|endoftext|> in text as ordinary characters", () => {
  const ids = gpt2Tokenizer.encode("a<|endoftext|>b");
  assert.ok(!ids.includes(50256));
  assert.equal(gpt2Tokenizer.decode(ids), "a<|endoftext|>b");
});

Deno.test("getTokenizer returns each tokenizer by name and lists valid names for unknown ones", () => {
  const byName: [string, Tokenizer][] = [["byte", byteTokenizer], ["gpt2", gpt2Tokenizer]];
  for (const [name, tokenizer] of byName) assert.equal(getTokenizer(name), tokenizer);
  assert.throws(() => getTokenizer("llama"), /Unknown tokenizer "llama": use one of "byte", "gpt2"/);
});

Deno.test("llama-bytes maps bytes to LLaMA's byte-fallback ids 3..258 with BOS 1 and EOS 2", () => {
  const t = getTokenizer("llama-bytes");
  assert.deepEqual(t.encode("a:é"), [0x61 + 3, 0x3a + 3, 0xc3 + 3, 0xa9 + 3]);
  assert.equal(t.decode([1, ...t.encode("key:välue")]), "key:välue");
  assert.deepEqual([t.bos, t.eos, t.vocabSize], [1, 2, 259]);
  assert.equal(t.tokenBytes(1), 0);
  assert.equal(t.tokenBytes(100), 1);
});

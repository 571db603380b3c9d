/**
 * Tokenizers: a byte-level one (vocabulary 256, the default at CPU scale) and GPT-2's BPE (vocabulary
 * 50257) from the npm package `gpt-tokenizer`, whose ranks ship inside the package. A checkpoint's own
 * `tokenizer.json` is read by `lib/data/hf_tokenizer.ts`.
 *
 * Neither adds BOS/EOS in {@link Tokenizer.encode}; the batching code puts one BOS before each document.
 *
 * @module
 */

import { decode as gpt2Decode, encode as gpt2Encode } from "gpt-tokenizer/encoding/r50k_base";
import gpt2Ranks from "gpt-tokenizer/bpeRanks/r50k_base";

/** Names accepted by {@link getTokenizer}. */
export const TOKENIZER_NAMES = ["byte", "gpt2", "llama-bytes"] as const;

/** One of {@link TOKENIZER_NAMES}. */
export type TokenizerName = (typeof TOKENIZER_NAMES)[number];

/** Text ↔ token ids. */
export interface Tokenizer {
  /** Which tokenizer this is: one of {@link TOKENIZER_NAMES}, or `hf:<folder>` for a `tokenizer.json`. */
  readonly name: string;
  /** Number of token ids, so every id is in `[0, vocabSize)`. */
  readonly vocabSize: number;
  /** Id that starts a document. */
  readonly bos: number;
  /** Id that ends a document (equal to {@link bos} for GPT-2). */
  readonly eos: number;
  /** Token ids of `text`, without BOS/EOS. */
  encode(text: string): number[];
  /** The text of `ids`; invalid UTF-8 becomes U+FFFD. */
  decode(ids: Iterable<number>): string;
  /** UTF-8 bytes of text that token `id` stands for: 0 for BOS/EOS, which stand for none (bits per byte). */
  tokenBytes(id: number): number;
}

/** ASCII "start of text", the byte tokenizer's BOS. */
const BYTE_BOS = 0x02;
/** ASCII "end of text", the byte tokenizer's EOS. */
const BYTE_EOS = 0x03;

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder();

/**
 * One token per UTF-8 byte: vocabulary 256, BOS = 0x02 and EOS = 0x03 (ASCII "start/end of text").
 * Those two control bytes never occur in corpus text, because the corpus loaders strip control
 * characters other than `\n` and `\t`, so BOS/EOS need no ids beyond the 256 bytes.
 */
export const byteTokenizer: Tokenizer = {
  name: "byte",
  vocabSize: 256,
  bos: BYTE_BOS,
  eos: BYTE_EOS,
  encode: (text) => Array.from(utf8Encoder.encode(text)),
  decode: (ids) => utf8Decoder.decode(Uint8Array.from(ids)),
  tokenBytes: (id) => (id === BYTE_BOS || id === BYTE_EOS ? 0 : 1),
};

/** GPT-2's `<|endoftext|>`, its only special token. */
const GPT2_END_OF_TEXT = 50256;

/** Treat `<|endoftext|>` inside text as plain text instead of throwing (gpt-tokenizer's default). */
const PLAIN_TEXT = { disallowedSpecial: new Set<string>() };

let gpt2ByteLengths: Uint16Array | undefined;

/** UTF-8 length of every GPT-2 token, from the package's rank table (strings or raw byte arrays). */
function gpt2TokenByteLengths(): Uint16Array {
  if (gpt2ByteLengths) return gpt2ByteLengths;
  const lengths = new Uint16Array(GPT2_END_OF_TEXT + 1);
  gpt2Ranks.forEach((token, id) => {
    lengths[id] = typeof token === "string" ? utf8Encoder.encode(token).length : token.length;
  });
  gpt2ByteLengths = lengths;
  return lengths;
}

/**
 * GPT-2's byte-level BPE (the `r50k_base` encoding): vocabulary 50257, BOS = EOS = `<|endoftext|>` (50256).
 * A literal `<|endoftext|>` in the text is encoded as ordinary characters, never as the special id.
 */
export const gpt2Tokenizer: Tokenizer = {
  name: "gpt2",
  vocabSize: GPT2_END_OF_TEXT + 1,
  bos: GPT2_END_OF_TEXT,
  eos: GPT2_END_OF_TEXT,
  encode: (text) => gpt2Encode(text, PLAIN_TEXT),
  decode: (ids) => gpt2Decode(ids),
  tokenBytes: (id) => gpt2TokenByteLengths()[id] ?? 0,
};

/** LLaMA's sentencepiece BOS/EOS ids and the id of its first byte-fallback token `<0x00>`. */
const LLAMA_BOS = 1;
const LLAMA_EOS = 2;
const LLAMA_FIRST_BYTE = 3;

/**
 * Text as LLaMA (1/2) sentencepiece byte-fallback tokens: byte b is id 3 + b (`<0xNN>`), BOS 1, EOS 2. These ids
 * exist in every LLaMA-1/2 vocabulary, so a real LLaMA checkpoint can be trained and scored on any text without
 * the sentencepiece model. It is not the canonical LLaMA tokenization (which merges characters into pieces):
 * runs that use it say so. Ids stay below 259, the smallest vocabulary it needs.
 */
export const llamaByteTokenizer: Tokenizer = {
  name: "llama-bytes",
  vocabSize: LLAMA_FIRST_BYTE + 256,
  bos: LLAMA_BOS,
  eos: LLAMA_EOS,
  encode: (text) => Array.from(utf8Encoder.encode(text), (b) => b + LLAMA_FIRST_BYTE),
  decode: (ids) =>
    utf8Decoder.decode(
      Uint8Array.from(Array.from(ids).filter((id) => id >= LLAMA_FIRST_BYTE), (id) => id - LLAMA_FIRST_BYTE),
    ),
  tokenBytes: (id) => (id >= LLAMA_FIRST_BYTE && id < LLAMA_FIRST_BYTE + 256 ? 1 : 0),
};

const TOKENIZERS: Record<TokenizerName, Tokenizer> = {
  byte: byteTokenizer,
  gpt2: gpt2Tokenizer,
  "llama-bytes": llamaByteTokenizer,
};

/** The tokenizer called `name`; throws a RangeError for names not in {@link TOKENIZER_NAMES}. */
export function getTokenizer(name: string): Tokenizer {
  if (!(TOKENIZER_NAMES as readonly string[]).includes(name)) {
    throw new RangeError(
      `Unknown tokenizer "${name}": use one of ${TOKENIZER_NAMES.map((n) => `"${n}"`).join(", ")}`,
    );
  }
  return TOKENIZERS[name as TokenizerName];
}

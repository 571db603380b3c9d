/**
 * Hugging Face tokenizer files (`tokenizer.json`, `tokenizer_config.json`) in and out. A checkpoint folder with
 * a `tokenizer.json` is tokenized by it, through `@huggingface/tokenizers` (so a LLaMA base uses its own
 * sentencepiece-BPE ids); the built-in tokenizers are written as equivalent `tokenizer.json` files, marked
 * in `tokenizer_config.json` so that reading them back gives the built-in tokenizer itself.
 *
 * @module
 */

import { Tokenizer as HfTokenizer } from "@huggingface/tokenizers";
import gpt2Ranks from "gpt-tokenizer/bpeRanks/r50k_base";
import { join } from "node:path";
import { getTokenizer, type Tokenizer, TOKENIZER_NAMES } from "./tokenizer.ts";

/** File names of a tokenizer inside a checkpoint folder. */
export const TOKENIZER_FILE = "tokenizer.json";
/** The tokenizer's settings (BOS/EOS tokens), next to {@link TOKENIZER_FILE}. */
export const TOKENIZER_CONFIG_FILE = "tokenizer_config.json";
/** The key of `tokenizer_config.json` naming a built-in tokenizer this project wrote. */
const BUILTIN_KEY = "mora_webgpu_tokenizer";

/** The text of a tokenizer's Hugging Face files, by file name. */
export type TokenizerFiles = Record<string, string>;

/** Files of tokenizers read from a folder, to write them unchanged on export. */
const filesOfLoaded = new WeakMap<Tokenizer, TokenizerFiles>();

/** GPT-2's map from bytes to printable characters (the ByteLevel pre-tokenizer's alphabet). */
function byteLevelChars(): string[] {
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || b >= 0xae;
  const chars: string[] = [];
  let next = 256;
  for (let b = 0; b < 256; b++) chars.push(String.fromCodePoint(printable(b) ? b : next++));
  return chars;
}

/**
 * A BPE `tokenizer.json` without merges: every id is one byte (byte) or one byte-fallback piece (llama-bytes).
 * BOS/EOS are plain vocabulary entries, not added tokens, so a literal `<s>` in text stays text, as in the
 * built-in tokenizers.
 */
function builtinTokenizerJson(name: string): Record<string, unknown> {
  const common = {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [],
    normalizer: null,
    post_processor: null,
  };
  const bpe = { type: "BPE", dropout: null, continuing_subword_prefix: null, end_of_word_suffix: null };
  if (name === "byte") {
    const byteLevel = { add_prefix_space: false, trim_offsets: false, use_regex: false };
    const vocab = Object.fromEntries(byteLevelChars().map((c, b) => [c, b]));
    return {
      ...common,
      pre_tokenizer: { type: "ByteLevel", ...byteLevel },
      decoder: { type: "ByteLevel", ...byteLevel },
      model: { ...bpe, unk_token: null, fuse_unk: false, byte_fallback: false, vocab, merges: [] },
    };
  }
  const specials = ["<unk>", "<s>", "</s>"];
  const bytes = Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
  const vocab = Object.fromEntries([...specials, ...bytes].map((t, id) => [t, id]));
  return {
    ...common,
    pre_tokenizer: null,
    decoder: { type: "Sequence", decoders: [{ type: "ByteFallback" }, { type: "Fuse" }] },
    model: { ...bpe, unk_token: "<unk>", fuse_unk: true, byte_fallback: true, vocab, merges: [] },
  };
}

/** GPT-2's `<|endoftext|>`. */
const GPT2_END_OF_TEXT = "<|endoftext|>";

/** GPT-2's tokens (rank = id) in the ByteLevel alphabet. */
function gpt2Tokens(): string[] {
  const chars = byteLevelChars();
  const encoder = new TextEncoder();
  return gpt2Ranks.map((token) =>
    Array.from(typeof token === "string" ? encoder.encode(token) : token, (b) => chars[b]).join("")
  );
}

/**
 * GPT-2's BPE as `tokenizer.json`: the ranks of `gpt-tokenizer` as the vocabulary, and as merges every split of
 * a token into two tokens, ordered by the merged token's rank (how transformers converts tiktoken ranks), with
 * the ByteLevel pre-tokenizer's GPT-2 regex. `<|endoftext|>` is a vocabulary entry, not an added token, so it
 * stays text inside text, as in the built-in tokenizer.
 */
function gpt2TokenizerJson(): Record<string, unknown> {
  const tokens = gpt2Tokens();
  const vocab = new Map(tokens.map((t, id) => [t, id]));
  const merges: [string, string][] = [];
  tokens.forEach((token, rank) => {
    const chars = [...token];
    const splits: [string, string, number, number][] = [];
    for (let i = 1; i < chars.length; i++) {
      const left = chars.slice(0, i).join(""), right = chars.slice(i).join("");
      const l = vocab.get(left), r = vocab.get(right);
      if (l !== undefined && r !== undefined && l < rank && r < rank) splits.push([left, right, l, r]);
    }
    splits.sort((a, b) => a[2] - b[2] || a[3] - b[3]);
    for (const [left, right] of splits) merges.push([left, right]);
  });
  const byteLevel = { add_prefix_space: false, trim_offsets: true, use_regex: true };
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [],
    normalizer: null,
    pre_tokenizer: { type: "ByteLevel", ...byteLevel },
    post_processor: null,
    decoder: { type: "ByteLevel", ...byteLevel },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: "",
      end_of_word_suffix: "",
      fuse_unk: false,
      byte_fallback: false,
      vocab: Object.fromEntries([...vocab, [GPT2_END_OF_TEXT, tokens.length]]),
      merges: merges.map(([a, b]) => `${a} ${b}`),
    },
  };
}

/** The token string of id `id` in a built-in tokenizer's `tokenizer.json`. */
function builtinToken(name: string, id: number): string {
  if (name === "byte") return byteLevelChars()[id]!;
  if (name === "gpt2") return GPT2_END_OF_TEXT; // its only special token, BOS and EOS alike
  return ["<unk>", "<s>", "</s>"][id] ?? `<0x${(id - 3).toString(16).toUpperCase().padStart(2, "0")}>`;
}

/**
 * The Hugging Face files of `tokenizer`: those it was read from, or, for a built-in tokenizer, an equivalent
 * `tokenizer.json` (the same ids for every text) with its `tokenizer_config.json`.
 *
 * @throws {RangeError} for a tokenizer that is neither built in nor read from files.
 */
export function tokenizerFiles(tokenizer: Tokenizer): TokenizerFiles {
  const loaded = filesOfLoaded.get(tokenizer);
  if (loaded) return loaded;
  if (!(TOKENIZER_NAMES as readonly string[]).includes(tokenizer.name)) {
    throw new RangeError(`Cannot write tokenizer files for the "${tokenizer.name}" tokenizer: it has none`);
  }
  const config = {
    tokenizer_class: "PreTrainedTokenizerFast",
    bos_token: builtinToken(tokenizer.name, tokenizer.bos),
    eos_token: builtinToken(tokenizer.name, tokenizer.eos),
    add_bos_token: true,
    add_eos_token: false,
    clean_up_tokenization_spaces: false,
    [BUILTIN_KEY]: tokenizer.name,
  };
  return {
    [TOKENIZER_FILE]: JSON.stringify(
      tokenizer.name === "gpt2" ? gpt2TokenizerJson() : builtinTokenizerJson(tokenizer.name),
    ) + "\n",
    [TOKENIZER_CONFIG_FILE]: JSON.stringify(config, null, 2) + "\n",
  };
}

/** The content of a special-token setting: a string, or an AddedToken object `{content}`. */
function tokenContent(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  const content = (value as { content?: unknown } | null)?.content;
  return typeof content === "string" ? content : undefined;
}

/** The id of `tokenizer_config.json`'s `field` token, or of the first of `fallbacks` the vocabulary has. */
function specialId(
  hf: HfTokenizer,
  config: Record<string, unknown>,
  field: string,
  fallbacks: string[],
  source: string,
): number {
  const named = tokenContent(config[field]);
  for (const token of named !== undefined ? [named] : fallbacks) {
    const id = hf.token_to_id(token);
    if (id !== undefined) return id;
  }
  throw new RangeError(
    `Tokenizer "${source}" has no ${field} (${named ?? fallbacks.join(" or ")} is not in its vocabulary); ` +
      `set "${field}" in ${TOKENIZER_CONFIG_FILE}`,
  );
}

/** UTF-8 bytes each id stands for: 0 for special tokens, 1 for a byte-fallback piece `<0xNN>`. */
function tokenByteCounts(hf: HfTokenizer, vocabSize: number, byteLevel: boolean): Uint32Array {
  const encoder = new TextEncoder();
  const special = new Set(hf.get_added_tokens_decoder().keys());
  const counts = new Uint32Array(vocabSize);
  for (const [token, id] of hf.get_vocab(true)) {
    if (special.has(id)) continue;
    if (/^<0x[0-9A-F]{2}>$/.test(token)) counts[id] = 1;
    else if (byteLevel) counts[id] = [...token].length; // one character per byte
    else counts[id] = encoder.encode(token.replaceAll("\u2581", " ")).length; // sentencepiece's ▁ is a space
  }
  return counts;
}

/**
 * A tokenizer from the text of Hugging Face files: ids as `tokenizer.json` gives them (no BOS/EOS added by
 * {@link Tokenizer.encode}); BOS/EOS from `tokenizer_config.json`, else `<s>`/`</s>`.
 */
export function parseTokenizerFiles(files: TokenizerFiles, source: string): Tokenizer {
  const parse = (file: string): Record<string, unknown> => {
    try {
      return JSON.parse(files[file] ?? "{}");
    } catch (e) {
      throw new SyntaxError(`Tokenizer file "${source}/${file}" is not valid JSON (${(e as Error).message})`);
    }
  };
  const json = parse(TOKENIZER_FILE), config = parse(TOKENIZER_CONFIG_FILE);
  const builtin = config[BUILTIN_KEY];
  if (typeof builtin === "string" && (TOKENIZER_NAMES as readonly string[]).includes(builtin)) {
    return getTokenizer(builtin);
  }
  let hf: HfTokenizer;
  try {
    hf = new HfTokenizer(json, config);
  } catch (e) {
    throw new SyntaxError(
      `Tokenizer "${source}/${TOKENIZER_FILE}" cannot be read by @huggingface/tokenizers ` +
        `(${(e as Error).message}); check that it is a Hugging Face tokenizer.json`,
    );
  }
  const vocabSize = Math.max(...hf.get_vocab(true).values()) + 1;
  const byteLevel = JSON.stringify(json.pre_tokenizer ?? null).includes('"ByteLevel"');
  const bytes = tokenByteCounts(hf, vocabSize, byteLevel);
  const tokenizer: Tokenizer = {
    name: `hf:${source}`,
    vocabSize,
    bos: specialId(hf, config, "bos_token", ["<s>", "<|begin_of_text|>", "<|endoftext|>"], source),
    eos: specialId(hf, config, "eos_token", ["</s>", "<|end_of_text|>", "<|endoftext|>"], source),
    encode: (text) => hf.encode(text, { add_special_tokens: false }).ids,
    decode: (ids) => hf.decode(Array.from(ids), { skip_special_tokens: true }),
    tokenBytes: (id) => bytes[id] ?? 0,
  };
  filesOfLoaded.set(tokenizer, files);
  return tokenizer;
}

/**
 * The tokenizer of a checkpoint folder: its `tokenizer.json` (with `tokenizer_config.json` when present), or
 * undefined when the folder has no `tokenizer.json`.
 */
export async function loadTokenizerDir(dir: string): Promise<Tokenizer | undefined> {
  const read = (file: string) =>
    Deno.readTextFile(join(dir, file)).catch((e) => {
      if (e instanceof Deno.errors.NotFound) return undefined;
      throw e;
    });
  const json = await read(TOKENIZER_FILE);
  if (json === undefined) return undefined;
  const config = await read(TOKENIZER_CONFIG_FILE);
  return parseTokenizerFiles(
    { [TOKENIZER_FILE]: json, ...config !== undefined ? { [TOKENIZER_CONFIG_FILE]: config } : {} },
    dir,
  );
}

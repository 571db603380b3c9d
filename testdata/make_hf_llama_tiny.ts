/**
 * Writes testdata/hf-llama-tiny/: a 2-layer LLaMA in exactly the layout the Hugging Face Hub publishes
 * LLaMA-2 in (`config.json`, `generation_config.json`, two safetensors shards with
 * `model.safetensors.index.json`, `tokenizer.json` + `tokenizer_config.json` + `special_tokens_map.json`;
 * there is no `tokenizer.model`, the sentencepiece protobuf, which nothing here reads).
 *
 * - Shard 1 holds the embedding and layer 0 in BF16, shard 2 layer 1, the final norm and the LM head in F16,
 *   each rounded from `initLlamaWeights(config, 3)` to nearest; layer 0's input norm starts with
 *   [1, -2.5, 0.1, 1/3] and the final norm too, so tests can check hand-computed half-precision values.
 * - The tokenizer is LLaMA's sentencepiece BPE in tokenizer.json form (Prepend/Replace normalizer, byte
 *   fallback ids 3..258 for `<0x00>`..`<0xFF>`, BOS 1, EOS 2), with 18 pieces spelling "hello world".
 *
 * The safetensors bytes are written here by hand (header, then data), not by lib/io/safetensors.ts, so the
 * reader is tested against an independent writer. Run: `deno run -A testdata/make_hf_llama_tiny.ts`.
 */

import { llamaParameterShapes } from "../lib/model/checkpoint.ts";
import { parseLlamaConfig } from "../lib/model/config.ts";
import { initLlamaWeights } from "../lib/model/init.ts";

const OUT = new URL("./hf-llama-tiny/", import.meta.url);
const KNOWN = [1, -2.5, 0.1, 1 / 3];

const hfConfig = {
  architectures: ["LlamaForCausalLM"],
  model_type: "llama",
  bos_token_id: 1,
  eos_token_id: 2,
  hidden_act: "silu",
  hidden_size: 16,
  intermediate_size: 24,
  initializer_range: 0.02,
  max_position_embeddings: 64,
  num_attention_heads: 4,
  num_hidden_layers: 2,
  num_key_value_heads: 2,
  pretraining_tp: 1,
  rms_norm_eps: 1e-5,
  rope_scaling: null,
  rope_theta: 10000,
  tie_word_embeddings: false,
  torch_dtype: "bfloat16",
  transformers_version: "4.31.0.dev0",
  use_cache: true,
  vocab_size: 277,
};

function bf16Bits(values: Float32Array): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  return Uint16Array.from(bits, (b) => (b + 0x7fff + ((b >>> 16) & 1)) >>> 16);
}

function f16Bits(values: Float32Array): Uint16Array {
  return new Uint16Array(new Float16Array(values).buffer);
}

/** A safetensors file as `safe_open` reads it: 8-byte length, space-padded JSON header, data. */
function safetensors(tensors: [string, string, number[], Uint16Array][]): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: { format: "pt" } };
  let offset = 0;
  for (const [name, dtype, shape, data] of tensors) {
    header[name] = { dtype, shape, data_offsets: [offset, offset + data.byteLength] };
    offset += data.byteLength;
  }
  const text = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(text.length / 8) * 8;
  const out = new Uint8Array(8 + padded + offset).fill(0x20, 8, 8 + padded);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(text, 8);
  let at = 8 + padded;
  for (const [, , , data] of tensors) {
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), at);
    at += data.byteLength;
  }
  return out;
}

function tokenizerJson(): Record<string, unknown> {
  const specials = ["<unk>", "<s>", "</s>"];
  const bytes = Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
  const merges = ["▁ h", "l l", "▁h e", "▁he ll", "▁hell o", "o r", "▁ w", "▁w or", "l d", "▁wor ld"];
  const pieces = ["▁", "h", "e", "l", "o", "w", "r", "d", ...merges.map((m) => m.replace(" ", ""))];
  const vocab = Object.fromEntries([...specials, ...bytes, ...pieces].map((t, id) => [t, id]));
  const special = (id: number) => ({
    id,
    content: specials[id],
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [0, 1, 2].map(special),
    normalizer: {
      type: "Sequence",
      normalizers: [{ type: "Prepend", prepend: "▁" }, {
        type: "Replace",
        pattern: { String: " " },
        content: "▁",
      }],
    },
    pre_tokenizer: null,
    post_processor: {
      type: "TemplateProcessing",
      single: [{ SpecialToken: { id: "<s>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
      pair: [
        { SpecialToken: { id: "<s>", type_id: 0 } },
        { Sequence: { id: "A", type_id: 0 } },
        { SpecialToken: { id: "<s>", type_id: 1 } },
        { Sequence: { id: "B", type_id: 1 } },
      ],
      special_tokens: { "<s>": { id: "<s>", ids: [1], tokens: ["<s>"] } },
    },
    decoder: {
      type: "Sequence",
      decoders: [
        { type: "Replace", pattern: { String: "▁" }, content: " " },
        { type: "ByteFallback" },
        { type: "Fuse" },
        { type: "Strip", content: " ", start: 1, stop: 0 },
      ],
    },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: "<unk>",
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      vocab,
      merges,
    },
  };
}

const tokenizerConfig = {
  add_bos_token: true,
  add_eos_token: false,
  bos_token: { __type: "AddedToken", content: "<s>", lstrip: false, normalized: false, rstrip: false },
  clean_up_tokenization_spaces: false,
  eos_token: { __type: "AddedToken", content: "</s>", lstrip: false, normalized: false, rstrip: false },
  legacy: false,
  model_max_length: 1000000000000000019884624838656,
  pad_token: null,
  sp_model_kwargs: {},
  tokenizer_class: "LlamaTokenizer",
  unk_token: { __type: "AddedToken", content: "<unk>", lstrip: false, normalized: false, rstrip: false },
};

const config = parseLlamaConfig(hfConfig, "hf-llama-tiny");
const weights = initLlamaWeights(config, 3);
for (const name of ["model.layers.0.input_layernorm.weight", "model.norm.weight"]) weights.get(name)!.set(KNOWN);
const shards: [string, string, number[], Uint16Array][][] = [[], []];
for (const { name, shape } of llamaParameterShapes(config)) {
  const first = name === "model.embed_tokens.weight" || name.startsWith("model.layers.0.");
  const data = weights.get(name)!;
  shards[first ? 0 : 1]!.push([name, first ? "BF16" : "F16", shape, first ? bf16Bits(data) : f16Bits(data)]);
}
await Deno.mkdir(OUT, { recursive: true });
const weightMap: Record<string, string> = {};
let totalSize = 0;
for (const [i, tensors] of shards.entries()) {
  const file = `model-0000${i + 1}-of-00002.safetensors`;
  await Deno.writeFile(new URL(file, OUT), safetensors(tensors));
  for (const [name, , , data] of tensors) {
    weightMap[name] = file;
    totalSize += data.byteLength;
  }
}
const sortedMap = Object.fromEntries(Object.entries(weightMap).sort(([a], [b]) => a.localeCompare(b)));
const json = (value: unknown) => JSON.stringify(value, null, 2) + "\n";
await Deno.writeTextFile(
  new URL("model.safetensors.index.json", OUT),
  json({ metadata: { total_size: totalSize }, weight_map: sortedMap }),
);
await Deno.writeTextFile(new URL("config.json", OUT), json(hfConfig));
await Deno.writeTextFile(
  new URL("generation_config.json", OUT),
  json({ _from_model_config: true, bos_token_id: 1, eos_token_id: 2, transformers_version: "4.31.0.dev0" }),
);
await Deno.writeTextFile(new URL("tokenizer.json", OUT), json(tokenizerJson()));
await Deno.writeTextFile(new URL("tokenizer_config.json", OUT), json(tokenizerConfig));
await Deno.writeTextFile(
  new URL("special_tokens_map.json", OUT),
  json({ bos_token: "<s>", eos_token: "</s>", unk_token: "<unk>" }),
);

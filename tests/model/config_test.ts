import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { type LlamaConfig, llamaConfigToJson, parseLlamaConfig } from "../../lib/model/config.ts";

const goldenConfig = fileURLToPath(new URL("../../testdata/golden/llama-tiny/config.json", import.meta.url));

/** The smallest valid config: only the required size fields. */
const minimal = {
  hidden_size: 64,
  intermediate_size: 172,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  vocab_size: 100,
};

Deno.test("golden config.json parses to the tiny LLaMA", async () => {
  const config = parseLlamaConfig(JSON.parse(await Deno.readTextFile(goldenConfig)), goldenConfig);
  const expected: LlamaConfig = {
    hiddenSize: 32,
    intermediateSize: 88,
    numHiddenLayers: 2,
    numAttentionHeads: 4,
    numKeyValueHeads: 4,
    vocabSize: 64,
    rmsNormEps: 1e-5,
    ropeTheta: 10000,
    tieWordEmbeddings: false,
    maxPositionEmbeddings: 64,
    headDim: 8,
  };
  assert.deepEqual(config, expected);
});

Deno.test("absent optional fields take the HF LlamaConfig defaults", () => {
  const c = parseLlamaConfig(minimal, "minimal");
  assert.equal(c.rmsNormEps, 1e-6);
  assert.equal(c.ropeTheta, 10000);
  assert.equal(c.tieWordEmbeddings, false);
  assert.equal(c.numKeyValueHeads, 4);
  assert.equal(c.maxPositionEmbeddings, 2048);
  assert.equal(c.headDim, 16);
  assert.equal(
    parseLlamaConfig({ ...minimal, num_key_value_heads: null, rope_scaling: null }, "nulls").numKeyValueHeads,
    4,
  );
});

Deno.test("harmless extra HF fields are ignored", () => {
  const extras = {
    bos_token_id: 1,
    eos_token_id: 2,
    use_cache: true,
    pretraining_tp: 1,
    transformers_version: "4.37.2",
  };
  assert.deepEqual(parseLlamaConfig({ ...minimal, ...extras }, "x"), parseLlamaConfig(minimal, "x"));
});

Deno.test("llamaConfigToJson round-trips and carries what transformers needs", () => {
  const c = parseLlamaConfig({
    ...minimal,
    num_key_value_heads: 2,
    tie_word_embeddings: true,
    rope_theta: 5e5,
  }, "x");
  const json = llamaConfigToJson(c);
  assert.deepEqual(parseLlamaConfig(JSON.parse(JSON.stringify(json)), "round trip"), c);
  assert.deepEqual(json.architectures, ["LlamaForCausalLM"]);
  assert.equal(json.model_type, "llama");
  assert.equal(json.hidden_act, "silu");
  assert.equal(json.torch_dtype, "float32");
  assert.equal(json.num_key_value_heads, 2);
  assert.equal(json.tie_word_embeddings, true);
});

/** Each invalid config with the error type and message it must produce. */
const invalid: [string, unknown, string, RegExp][] = [
  ["not an object", [1], "TypeError", /Config "cfg" is not a JSON object/],
  [
    "missing hidden_size",
    { ...minimal, hidden_size: undefined },
    "TypeError",
    /Field "hidden_size" is missing in "cfg"; add it as a positive integer/,
  ],
  [
    "string vocab_size",
    { ...minimal, vocab_size: "100" },
    "TypeError",
    /Field "vocab_size" is "100" in "cfg"; it must be a positive integer/,
  ],
  [
    "fractional layers",
    { ...minimal, num_hidden_layers: 1.5 },
    "TypeError",
    /Field "num_hidden_layers" is 1.5/,
  ],
  [
    "zero intermediate_size",
    { ...minimal, intermediate_size: 0 },
    "RangeError",
    /Field "intermediate_size" is 0 in "cfg"; it must be a positive integer/,
  ],
  [
    "negative rms_norm_eps",
    { ...minimal, rms_norm_eps: -1e-6 },
    "RangeError",
    /Field "rms_norm_eps" is -0.000001 in "cfg"; it must be a finite number > 0/,
  ],
  [
    "string tie_word_embeddings",
    { ...minimal, tie_word_embeddings: "yes" },
    "TypeError",
    /Field "tie_word_embeddings" is "yes" in "cfg"; it must be true or false/,
  ],
  [
    "heads not dividing hidden",
    { ...minimal, num_attention_heads: 6 },
    "RangeError",
    /Field "num_attention_heads" is 6 in "cfg"; it must divide hidden_size 64/,
  ],
  [
    "kv heads not dividing heads",
    { ...minimal, num_key_value_heads: 3 },
    "RangeError",
    /Field "num_key_value_heads" is 3 in "cfg"; it must divide num_attention_heads 4/,
  ],
  ["odd head width", { ...minimal, hidden_size: 36 }, "RangeError", /head width 9 must be even for RoPE/],
  [
    "inconsistent head_dim",
    { ...minimal, head_dim: 32 },
    "RangeError",
    /Field "head_dim" is 32 in "cfg"; it must equal hidden_size \/ num_attention_heads = 16/,
  ],
  [
    "gelu activation",
    { ...minimal, hidden_act: "gelu" },
    "RangeError",
    /Field "hidden_act" is "gelu" in "cfg"; only "silu" \(SwiGLU\) is supported/,
  ],
  [
    "rope scaling",
    { ...minimal, rope_scaling: { type: "linear", factor: 2 } },
    "RangeError",
    /Field "rope_scaling" is .* RoPE scaling is not supported/,
  ],
  [
    "attention bias",
    { ...minimal, attention_bias: true },
    "RangeError",
    /Field "attention_bias" is true .* attention biases are not supported/,
  ],
  [
    "other model type",
    { ...minimal, model_type: "mistral" },
    "RangeError",
    /Field "model_type" is "mistral" .* only "llama" is supported/,
  ],
  [
    "other architecture",
    { ...minimal, architectures: ["LlamaModel"] },
    "RangeError",
    /Field "architectures" is \["LlamaModel"\]/,
  ],
];

for (const [what, json, name, message] of invalid) {
  Deno.test(`invalid config is rejected with the field named: ${what}`, () => {
    assert.throws(() => parseLlamaConfig(json, "cfg"), { name, message });
  });
}

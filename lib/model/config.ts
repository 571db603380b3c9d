/**
 * LLaMA model configuration: parsing a Hugging Face `config.json` of `LlamaForCausalLM` and writing
 * one back that `transformers` loads unchanged. Absent optional fields take the defaults of HF
 * `LlamaConfig`; values this engine does not implement (other activations, RoPE scaling, biases)
 * are rejected with the field named, never silently ignored. Unknown extra fields are ignored.
 *
 * @module
 */

/** Std of the normal init of linears and embeddings (HF `initializer_range` default). */
export const LLAMA_INITIALIZER_RANGE = 0.02;

/** Shape and numeric settings of a LLaMA decoder (HF field names in the comments). */
export interface LlamaConfig {
  /** Model width (`hidden_size`). */
  hiddenSize: number;
  /** SwiGLU inner width (`intermediate_size`). */
  intermediateSize: number;
  /** Decoder layers (`num_hidden_layers`). */
  numHiddenLayers: number;
  /** Query heads (`num_attention_heads`). */
  numAttentionHeads: number;
  /** Key/value heads; fewer than query heads means grouped-query attention (`num_key_value_heads`). */
  numKeyValueHeads: number;
  /** Vocabulary size (`vocab_size`). */
  vocabSize: number;
  /** RMSNorm epsilon (`rms_norm_eps`, default 1e-6). */
  rmsNormEps: number;
  /** RoPE base (`rope_theta`, default 10000). */
  ropeTheta: number;
  /** Whether `lm_head` shares the embedding matrix (`tie_word_embeddings`, default false). */
  tieWordEmbeddings: boolean;
  /** Longest sequence (`max_position_embeddings`, default 2048). */
  maxPositionEmbeddings: number;
  /** Per-head width, `hiddenSize / numAttentionHeads` (`head_dim`). */
  headDim: number;
}

/** Reads fields of one config object, naming the field and the source in every error. */
class FieldReader {
  constructor(readonly json: Record<string, unknown>, readonly source: string) {}

  /** Whether the field is present and not null. */
  has(field: string): boolean {
    return this.json[field] !== undefined && this.json[field] !== null;
  }

  /** A positive integer; required unless a default is given. */
  positiveInt(field: string, fallback?: number): number {
    const v = this.#value(field, fallback, "a positive integer");
    if (typeof v !== "number" || !Number.isInteger(v)) this.#wrongType(field, v, "a positive integer");
    if (v <= 0) this.fail(field, v, "it must be a positive integer");
    return v;
  }

  /** A finite number > 0. */
  positiveNumber(field: string, fallback: number): number {
    const v = this.#value(field, fallback, "a positive number");
    if (typeof v !== "number") this.#wrongType(field, v, "a positive number");
    if (!(v > 0) || !Number.isFinite(v)) this.fail(field, v, "it must be a finite number > 0");
    return v;
  }

  /** A boolean. */
  boolean(field: string, fallback: boolean): boolean {
    const v = this.#value(field, fallback, "true or false");
    if (typeof v !== "boolean") this.#wrongType(field, v, "true or false");
    return v;
  }

  /** Throws unless the field is absent, null or one of `allowed` (what this engine implements). */
  onlyIf(field: string, allowed: unknown[], what: string): void {
    if (this.has(field) && !allowed.includes(this.json[field])) this.fail(field, this.json[field], what);
  }

  /** Throws a RangeError about the field's value. */
  fail(field: string, value: unknown, problem: string): never {
    throw new RangeError(`Field "${field}" is ${JSON.stringify(value)} in "${this.source}"; ${problem}`);
  }

  #value(field: string, fallback: unknown, kind: string): unknown {
    if (this.has(field)) return this.json[field];
    if (fallback !== undefined) return fallback;
    throw new TypeError(`Field "${field}" is missing in "${this.source}"; add it as ${kind}`);
  }

  #wrongType(field: string, value: unknown, kind: string): never {
    throw new TypeError(
      `Field "${field}" is ${JSON.stringify(value)} in "${this.source}"; it must be ${kind}`,
    );
  }
}

/** Rejects configs of other architectures and features this engine does not implement. */
function checkSupported(r: FieldReader): void {
  r.onlyIf("model_type", ["llama"], `only "llama" is supported`);
  const arch = r.json.architectures;
  if (r.has("architectures") && !(Array.isArray(arch) && arch.includes("LlamaForCausalLM"))) {
    r.fail("architectures", arch, `only "LlamaForCausalLM" is supported`);
  }
  r.onlyIf("hidden_act", ["silu"], `only "silu" (SwiGLU) is supported`);
  r.onlyIf("rope_scaling", [], "RoPE scaling is not supported; remove it or set it to null");
  r.onlyIf("attention_bias", [false], "attention biases are not supported; set it to false");
  r.onlyIf("mlp_bias", [false], "MLP biases are not supported; set it to false");
}

/** Checks how heads divide the width and that RoPE gets an even head width. */
function checkHeads(r: FieldReader, c: LlamaConfig): void {
  if (c.hiddenSize % c.numAttentionHeads !== 0) {
    r.fail("num_attention_heads", c.numAttentionHeads, `it must divide hidden_size ${c.hiddenSize}`);
  }
  if (c.numAttentionHeads % c.numKeyValueHeads !== 0) {
    r.fail(
      "num_key_value_heads",
      c.numKeyValueHeads,
      `it must divide num_attention_heads ${c.numAttentionHeads}`,
    );
  }
  if (r.has("head_dim") && r.json.head_dim !== c.headDim) {
    r.fail("head_dim", r.json.head_dim, `it must equal hidden_size / num_attention_heads = ${c.headDim}`);
  }
  if (c.headDim % 2 !== 0) {
    r.fail("num_attention_heads", c.numAttentionHeads, `the head width ${c.headDim} must be even for RoPE`);
  }
}

/** Parses and validates a HF `config.json` object of `LlamaForCausalLM`; `source` names it in errors. */
export function parseLlamaConfig(json: unknown, source: string): LlamaConfig {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new TypeError(`Config "${source}" is not a JSON object; pass the contents of a HF config.json`);
  }
  const r = new FieldReader(json as Record<string, unknown>, source);
  checkSupported(r);
  const hiddenSize = r.positiveInt("hidden_size");
  const numAttentionHeads = r.positiveInt("num_attention_heads");
  const config: LlamaConfig = {
    hiddenSize,
    intermediateSize: r.positiveInt("intermediate_size"),
    numHiddenLayers: r.positiveInt("num_hidden_layers"),
    numAttentionHeads,
    numKeyValueHeads: r.positiveInt("num_key_value_heads", numAttentionHeads),
    vocabSize: r.positiveInt("vocab_size"),
    rmsNormEps: r.positiveNumber("rms_norm_eps", 1e-6),
    ropeTheta: r.positiveNumber("rope_theta", 10000),
    tieWordEmbeddings: r.boolean("tie_word_embeddings", false),
    maxPositionEmbeddings: r.positiveInt("max_position_embeddings", 2048),
    headDim: hiddenSize / numAttentionHeads,
  };
  checkHeads(r, config);
  return config;
}

/** The HF `config.json` object for `c`: every field `LlamaForCausalLM.from_pretrained` needs. */
export function llamaConfigToJson(c: LlamaConfig): Record<string, unknown> {
  return {
    architectures: ["LlamaForCausalLM"],
    model_type: "llama",
    hidden_size: c.hiddenSize,
    intermediate_size: c.intermediateSize,
    num_hidden_layers: c.numHiddenLayers,
    num_attention_heads: c.numAttentionHeads,
    num_key_value_heads: c.numKeyValueHeads,
    head_dim: c.headDim,
    vocab_size: c.vocabSize,
    rms_norm_eps: c.rmsNormEps,
    rope_theta: c.ropeTheta,
    rope_scaling: null,
    tie_word_embeddings: c.tieWordEmbeddings,
    max_position_embeddings: c.maxPositionEmbeddings,
    hidden_act: "silu",
    attention_bias: false,
    mlp_bias: false,
    initializer_range: LLAMA_INITIALIZER_RANGE,
    torch_dtype: "float32",
  };
}

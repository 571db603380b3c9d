/**
 * Hugging Face LLaMA checkpoints: a folder with `config.json` and `model.safetensors` (float32),
 * parameter names and shapes exactly as `LlamaForCausalLM.state_dict()` has them, so
 * `from_pretrained(dir)` loads what {@link saveCheckpoint} writes (with `generation_config.json` and the
 * tokenizer files), and {@link loadCheckpoint} reads what `save_pretrained(dir)` writes: one
 * `model.safetensors` or shards with `model.safetensors.index.json`, F16/BF16 converted to float32, and the
 * folder's own `tokenizer.json` when it has one.
 *
 * @module
 */

import { join } from "node:path";
import { loadTokenizerDir, tokenizerFiles } from "../data/hf_tokenizer.ts";
import type { Tokenizer } from "../data/tokenizer.ts";
import {
  readSafetensors,
  readShardedSafetensors,
  type SafetensorsFile,
  type TensorToWrite,
  writeFileAtomic,
  writeSafetensors,
} from "../io/safetensors.ts";
import { type LlamaConfig, llamaConfigToJson, parseLlamaConfig } from "./config.ts";

/** File names inside a checkpoint folder. */
const CONFIG_FILE = "config.json";
const GENERATION_CONFIG_FILE = "generation_config.json";
const WEIGHTS_FILE = "model.safetensors";
const SHARD_INDEX_FILE = "model.safetensors.index.json";

/** Tensors a checkpoint may hold beyond the parameters: rotary buffers of older transformers. */
const KNOWN_BUFFER = /(^|\.)rotary_emb\.inv_freq$/;

/** One parameter: its HF name and row-major shape (linears are `[out, in]`). */
export interface ParameterShape {
  /** HF state-dict name, e.g. `model.layers.0.self_attn.q_proj.weight`. */
  name: string;
  /** Row-major dimensions. */
  shape: number[];
}

/** The parameters of one decoder layer, in order. */
function layerShapes(c: LlamaConfig, layer: number): ParameterShape[] {
  const p = `model.layers.${layer}`;
  const h = c.hiddenSize;
  const kv = c.numKeyValueHeads * c.headDim;
  const ff = c.intermediateSize;
  return [
    { name: `${p}.input_layernorm.weight`, shape: [h] },
    { name: `${p}.self_attn.q_proj.weight`, shape: [h, h] },
    { name: `${p}.self_attn.k_proj.weight`, shape: [kv, h] },
    { name: `${p}.self_attn.v_proj.weight`, shape: [kv, h] },
    { name: `${p}.self_attn.o_proj.weight`, shape: [h, h] },
    { name: `${p}.post_attention_layernorm.weight`, shape: [h] },
    { name: `${p}.mlp.gate_proj.weight`, shape: [ff, h] },
    { name: `${p}.mlp.up_proj.weight`, shape: [ff, h] },
    { name: `${p}.mlp.down_proj.weight`, shape: [h, ff] },
  ];
}

/**
 * Every parameter of `LlamaForCausalLM` in a fixed order: the embedding, each layer's input norm,
 * q/k/v/o projections, post-attention norm and gate/up/down projections, the final norm, and
 * `lm_head.weight` unless the embeddings are tied.
 */
export function llamaParameterShapes(c: LlamaConfig): ParameterShape[] {
  const shapes: ParameterShape[] = [{
    name: "model.embed_tokens.weight",
    shape: [c.vocabSize, c.hiddenSize],
  }];
  for (let l = 0; l < c.numHiddenLayers; l++) shapes.push(...layerShapes(c, l));
  shapes.push({ name: "model.norm.weight", shape: [c.hiddenSize] });
  if (!c.tieWordEmbeddings) shapes.push({ name: "lm_head.weight", shape: [c.vocabSize, c.hiddenSize] });
  return shapes;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Reads a file, naming it and saying what to do when it is absent. */
async function readCheckpointFile<T>(path: string, read: (path: string) => Promise<T>): Promise<T> {
  try {
    return await read(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    throw new Deno.errors.NotFound(
      `Checkpoint file "${path}" does not exist; save the model with saveCheckpoint() or ` +
        `save_pretrained(dir, safe_serialization=True)`,
    );
  }
}

/** Reads and checks `dir/config.json` alone (a plan is validated against it before any weight is read). */
export async function loadCheckpointConfig(dir: string): Promise<LlamaConfig> {
  const configPath = join(dir, CONFIG_FILE);
  const text = await readCheckpointFile(configPath, Deno.readTextFile);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new SyntaxError(
      `Config "${configPath}" is not valid JSON (${(e as Error).message}); fix or re-save it`,
    );
  }
  return parseLlamaConfig(json, configPath);
}

/** Reads `dir/model.safetensors`, or the shards of `dir/model.safetensors.index.json` when there is no single file. */
async function readWeightsFile(dir: string): Promise<SafetensorsFile> {
  try {
    return await readCheckpointFile(join(dir, WEIGHTS_FILE), readSafetensors);
  } catch (e) {
    const index = join(dir, SHARD_INDEX_FILE);
    const sharded = e instanceof Deno.errors.NotFound && await Deno.stat(index).then(() => true, () => false);
    if (!sharded) throw e;
    return await readShardedSafetensors(index);
  }
}

/** One log line for the tensors stored in half precision (F16/BF16), or undefined when there are none. */
function conversionNote(file: SafetensorsFile, names: readonly string[]): string | undefined {
  const counts = new Map<string, number>();
  for (const name of names) {
    const dtype = file.dtype(name);
    if (dtype === "F16" || dtype === "BF16") counts.set(dtype, (counts.get(dtype) ?? 0) + 1);
  }
  if (counts.size === 0) return undefined;
  const parts = [...counts].map(([dtype, n]) => `${n} ${dtype}`);
  return `checkpoint ${file.source}: converted ${parts.join(" and ")} tensor(s) to float32 on load`;
}

/** Throws, naming one, when the file holds tensors the config does not account for. */
function checkNoExtraTensors(config: LlamaConfig, names: readonly string[], source: string): void {
  const expected = new Set(llamaParameterShapes(config).map((s) => s.name));
  const allowed = (name: string) =>
    expected.has(name) || KNOWN_BUFFER.test(name) || (config.tieWordEmbeddings && name === "lm_head.weight");
  const extra = names.filter((name) => !allowed(name));
  if (extra.length > 0) {
    throw new RangeError(
      `Checkpoint "${source}" holds ${extra.length} tensor(s) its config.json does not account for, such as ` +
        `"${extra[0]}"; the config describes another model (check num_hidden_layers and the sizes)`,
    );
  }
}

/** A loaded checkpoint: its config, float32 weights, and the tokenizer of its `tokenizer.json`, if any. */
export interface LoadedCheckpoint {
  /** The model's `config.json`. */
  config: LlamaConfig;
  /** Every parameter by Hugging Face name, as float32. */
  weights: Map<string, Float32Array<ArrayBuffer>>;
  /** The folder's own tokenizer (`tokenizer.json`); undefined when it has none. */
  tokenizer?: Tokenizer;
}

/**
 * Loads `dir/config.json`, the weights (`model.safetensors`, or the shards its index names; any float dtype,
 * converted to float32, with a `log` line when some were half precision) and `dir/tokenizer.json` when present.
 * Every parameter of {@link llamaParameterShapes} must be present with its shape, and every other tensor must
 * be a known buffer (`rotary_emb.inv_freq`, or a tied `lm_head.weight`, both ignored).
 *
 * @throws {RangeError} on a missing, misshapen or unaccounted-for tensor, or shards that disagree with the index.
 */
export async function loadCheckpoint(
  dir: string,
  log: (line: string) => void = console.log,
): Promise<LoadedCheckpoint> {
  const config = await loadCheckpointConfig(dir);
  const file = await readWeightsFile(dir);
  checkNoExtraTensors(config, file.names(), file.source);
  const weights = new Map<string, Float32Array<ArrayBuffer>>();
  const shapes = llamaParameterShapes(config);
  for (const { name, shape } of shapes) {
    if (!file.has(name)) {
      throw new RangeError(
        `Tensor "${name}" is missing from "${file.source}"; the checkpoint does not match its config.json`,
      );
    }
    const found = file.shape(name);
    if (!sameShape(found, shape)) {
      throw new RangeError(
        `Tensor "${name}" in "${file.source}" has shape [${found.join(", ")}] but config.json implies ` +
          `[${shape.join(", ")}]; the checkpoint does not match its config`,
      );
    }
    weights.set(name, file.f32(name));
  }
  const note = conversionNote(file, shapes.map((s) => s.name));
  if (note) log(note);
  const tokenizer = await loadTokenizerDir(dir);
  return tokenizer ? { config, weights, tokenizer } : { config, weights };
}

/** Checks `weights` holds exactly the parameters of `config`, each of the right size, in order. */
function orderedTensors(
  config: LlamaConfig,
  weights: Map<string, Float32Array>,
): Record<string, TensorToWrite> {
  const shapes = llamaParameterShapes(config);
  const expected = new Set(shapes.map((s) => s.name));
  const extra = [...weights.keys()].find((name) => !expected.has(name));
  if (extra !== undefined) {
    throw new RangeError(
      `Cannot save tensor "${extra}": it is not a parameter of this LLaMA config; remove it`,
    );
  }
  const tensors: Record<string, TensorToWrite> = {};
  for (const { name, shape } of shapes) {
    const data = weights.get(name);
    if (!data) throw new RangeError(`Cannot save the checkpoint: tensor "${name}" is missing; add it`);
    const size = shape.reduce((n, d) => n * d, 1);
    if (data.length !== size) {
      throw new RangeError(
        `Cannot save tensor "${name}": it has ${data.length} values but shape [${
          shape.join(", ")
        }] needs ${size}`,
      );
    }
    tensors[name] = { shape, data };
  }
  return tensors;
}

/** The tokenizer's BOS/EOS ids, as `config.json` and `generation_config.json` carry them. */
function specialTokenIds(tokenizer: Tokenizer): Record<string, number> {
  return { bos_token_id: tokenizer.bos, eos_token_id: tokenizer.eos };
}

/**
 * Saves a float32 checkpoint `LlamaForCausalLM.from_pretrained(dir)` loads: `model.safetensors`
 * (metadata `format: pt`, as transformers requires), the tokenizer's files (`tokenizer.json`,
 * `tokenizer_config.json`), `generation_config.json` and then
 * `config.json`, both with the tokenizer's BOS/EOS ids; each written atomically, the folder created if needed,
 * and one `log` line names the tokenizer files. Everything is validated before anything is written.
 */
export async function saveCheckpoint(
  dir: string,
  config: LlamaConfig,
  weights: Map<string, Float32Array>,
  tokenizer: Tokenizer,
  log: (line: string) => void = console.log,
): Promise<void> {
  const hf = { ...llamaConfigToJson(config), ...specialTokenIds(tokenizer) };
  parseLlamaConfig(hf, join(dir, CONFIG_FILE)); // the config to save must itself be valid
  if (tokenizer.vocabSize > config.vocabSize) {
    throw new RangeError(
      `Cannot save the checkpoint with the "${tokenizer.name}" tokenizer: its ${tokenizer.vocabSize} ids do ` +
        `not fit the model's vocabulary of ${config.vocabSize}`,
    );
  }
  const tensors = orderedTensors(config, weights);
  const files = tokenizerFiles(tokenizer);
  const generation = { _from_model_config: true, ...specialTokenIds(tokenizer) };
  const encoder = new TextEncoder();
  const asJson = (value: unknown) => encoder.encode(JSON.stringify(value, null, 2) + "\n");
  await Deno.mkdir(dir, { recursive: true });
  await writeSafetensors(join(dir, WEIGHTS_FILE), tensors, { format: "pt" });
  for (const [name, text] of Object.entries(files)) {
    await writeFileAtomic(join(dir, name), encoder.encode(text));
  }
  await writeFileAtomic(join(dir, GENERATION_CONFIG_FILE), asJson(generation));
  await writeFileAtomic(join(dir, CONFIG_FILE), asJson(hf));
  log(`checkpoint ${dir}: the "${tokenizer.name}" tokenizer as ${Object.keys(files).join(" and ")}`);
}

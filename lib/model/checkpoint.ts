/**
 * Hugging Face LLaMA checkpoints: a folder with `config.json` and `model.safetensors` (float32),
 * parameter names and shapes exactly as `LlamaForCausalLM.state_dict()` has them, so
 * `from_pretrained(dir)` loads what {@link saveCheckpoint} writes, and {@link loadCheckpoint} reads
 * what `save_pretrained(dir)` writes (single-file safetensors; a sharded checkpoint is refused, saying so).
 *
 * @module
 */

import { join } from "node:path";
import {
  readSafetensors,
  type SafetensorsFile,
  type TensorToWrite,
  writeFileAtomic,
  writeSafetensors,
} from "../io/safetensors.ts";
import { type LlamaConfig, llamaConfigToJson, parseLlamaConfig } from "./config.ts";

/** File names inside a checkpoint folder. */
const CONFIG_FILE = "config.json";
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

/** Reads `dir/model.safetensors`; a sharded checkpoint (an index, no single file) is refused, saying so. */
async function readWeightsFile(dir: string): Promise<SafetensorsFile> {
  try {
    return await readCheckpointFile(join(dir, WEIGHTS_FILE), readSafetensors);
  } catch (e) {
    const sharded = e instanceof Deno.errors.NotFound &&
      await Deno.stat(join(dir, SHARD_INDEX_FILE)).then(() => true, () => false);
    if (!sharded) throw e;
    throw new RangeError(
      `Checkpoint "${dir}" is sharded (${SHARD_INDEX_FILE}, no ${WEIGHTS_FILE}), which is not supported; ` +
        `save it as one file, e.g. save_pretrained(dir, max_shard_size="1000GB")`,
    );
  }
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

/**
 * Loads `dir/config.json` and `dir/model.safetensors` (any float dtype, converted to float32). Every
 * parameter of {@link llamaParameterShapes} must be present with its shape, and every other tensor must be
 * a known buffer (`rotary_emb.inv_freq`, or a tied `lm_head.weight`, both ignored).
 *
 * @throws {RangeError} on a missing, misshapen or unaccounted-for tensor, or a sharded checkpoint.
 */
export async function loadCheckpoint(
  dir: string,
): Promise<{ config: LlamaConfig; weights: Map<string, Float32Array<ArrayBuffer>> }> {
  const config = await loadCheckpointConfig(dir);
  const file = await readWeightsFile(dir);
  checkNoExtraTensors(config, file.names(), file.source);
  const weights = new Map<string, Float32Array<ArrayBuffer>>();
  for (const { name, shape } of llamaParameterShapes(config)) {
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
  return { config, weights };
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

/**
 * Saves a float32 checkpoint `LlamaForCausalLM.from_pretrained(dir)` loads: `model.safetensors`
 * (metadata `format: pt`, as transformers requires) and then `config.json`, each written atomically;
 * the folder is created if needed. Everything is validated before anything is written.
 */
export async function saveCheckpoint(
  dir: string,
  config: LlamaConfig,
  weights: Map<string, Float32Array>,
): Promise<void> {
  const hf = llamaConfigToJson(config);
  parseLlamaConfig(hf, join(dir, CONFIG_FILE)); // the config to save must itself be valid
  const tensors = orderedTensors(config, weights);
  const json = JSON.stringify(hf, null, 2) + "\n";
  await Deno.mkdir(dir, { recursive: true });
  await writeSafetensors(join(dir, WEIGHTS_FILE), tensors, { format: "pt" });
  await writeFileAtomic(join(dir, CONFIG_FILE), new TextEncoder().encode(json));
}

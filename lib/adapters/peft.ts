/**
 * Adapters in Hugging Face PEFT format: `adapter_config.json` and `adapter_model.safetensors` with names
 * `base_model.model.<module path>.lora_A.weight` (and `lora_B.weight`, `lora_magnitude_vector` for DoRA).
 * MoRA follows peft-mora: `use_mora`, `mora_type`, and M stored under both `lora_A` and `lora_B`. Fields
 * the reference does not know (our method name; MoRA variants without a reference type number, truncation
 * and decouple) go into `mora_webgpu`, which PEFT ignores.
 *
 * @module
 */

import { join } from "node:path";
import { readTensor, type Tensor, writeTensor } from "../gpu/tensor.ts";
import { readSafetensors, type TensorToWrite, writeFileAtomic, writeSafetensors } from "../io/safetensors.ts";
import type { LlamaModel } from "../model/llama.ts";
import { MoraLayer } from "./mora.ts";
import { MORA_REFERENCE_TYPE, MORA_VARIANTS, type MoraVariant } from "../ops/mora/variants.ts";
import { ALL_LINEAR_TARGETS, applyAdapters } from "./registry.ts";
import type { AdapterConfig, AdapterLayer } from "./types.ts";
import { parseJsonFile } from "../io/json.ts";

const PREFIX = "base_model.model.";

/**
 * The PEFT `adapter_config.json` of a config; `baseModel` (the base's folder or Hub id) becomes
 * `base_model_name_or_path`, which `PeftModel.from_pretrained` and `AutoPeftModelForCausalLM` load the base from
 * (null when unknown, as PEFT writes it).
 */
export function peftConfigJson(c: AdapterConfig, baseModel?: string): Record<string, unknown> {
  const isMora = c.method === "mora" || c.method === "remora";
  const json: Record<string, unknown> = {
    peft_type: "LORA",
    task_type: "CAUSAL_LM",
    base_model_name_or_path: baseModel ?? null,
    r: c.r,
    lora_alpha: c.alpha,
    lora_dropout: c.dropout ?? 0,
    bias: "none",
    fan_in_fan_out: false,
    target_modules: c.targetModules,
    use_dora: c.method === "dora",
    mora_webgpu: { method: c.method, seed: c.seed, ...extraFields(c) },
  };
  if (isMora) {
    const type = MORA_REFERENCE_TYPE[c.moraVariant as MoraVariant];
    json.use_mora = true;
    if (type !== undefined) json.mora_type = type;
  }
  return json;
}

function extraFields(c: AdapterConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of ["loraPlusRatio", "freezeA", "moraVariant", "mergeEvery", "restartWarmup"] as const) {
    if (c[key] !== undefined) out[key] = c[key];
  }
  return out;
}

/** Whether a field is set to something other than its "off" value (absent, null, false, "", {} or []). */
function isSet(value: unknown): boolean {
  if (value === undefined || value === null || value === false || value === "") return false;
  if (Array.isArray(value)) return value.length > 0;
  return typeof value !== "object" || Object.keys(value).length > 0;
}

/** PEFT fields that change what the adapter computes and are not implemented, with what to do instead. */
const UNSUPPORTED_FIELDS: [field: string, fix: string][] = [
  ["use_rslora", "rank-stabilized scaling (α/√r) is not implemented; train with use_rslora false"],
  ["alpha_pattern", "per-module α is not implemented; use one lora_alpha for every module"],
  ["rank_pattern", "per-module ranks are not implemented; use one r for every module"],
  ["layers_to_transform", "adapting only some layers is not implemented; adapt every layer"],
  ["layers_pattern", "adapting only some layers is not implemented; adapt every layer"],
  ["fan_in_fan_out", "Conv1D-style [in, out] weights are not supported; LLaMA's linears are [out, in]"],
  ["modules_to_save", "fully trained extra modules are not loaded; save the adapter without them"],
];

/** Throws, naming the field, for a PEFT config this loader would silently misread. */
function checkSupported(json: Record<string, unknown>, source: string): void {
  const type = json.peft_type ?? "LORA";
  if (type !== "LORA") {
    throw new RangeError(
      `Adapter config "${source}": peft_type ${
        JSON.stringify(type)
      } is not supported; only "LORA" adapters ` +
        `(LoRA and its variants, DoRA, MoRA) load`,
    );
  }
  for (const [field, fix] of UNSUPPORTED_FIELDS) {
    if (isSet(json[field])) {
      throw new RangeError(
        `Adapter config "${source}": ${field} ${JSON.stringify(json[field])} is not supported: ${fix}`,
      );
    }
  }
}

/**
 * The target module names: `"all-linear"` is the seven projections; every other name must be one of them
 * (or a module path ending in one), so that a misspelt or unsupported name is not silently skipped.
 */
function targetModules(value: unknown, source: string): string[] {
  if (value === "all-linear") return [...ALL_LINEAR_TARGETS];
  if (!(Array.isArray(value) && value.length > 0 && value.every((s) => typeof s === "string"))) {
    throw new SyntaxError(
      `Adapter config "${source}": field "target_modules" is missing or invalid; expected "all-linear" or ` +
        `a list of module names`,
    );
  }
  const unknown = value.filter((name) => !ALL_LINEAR_TARGETS.includes(name.split(".").at(-1)!));
  if (unknown.length > 0) {
    throw new RangeError(
      `Adapter config "${source}": target_modules ${unknown.map((n) => `"${n}"`).join(", ")} are not ` +
        `linear layers of this LLaMA; use names among ${ALL_LINEAR_TARGETS.join(", ")}, or "all-linear"`,
    );
  }
  return value;
}

/**
 * Reads an `adapter_config.json` object into a config, naming the bad field; refuses, by name, what it would
 * otherwise misread (another peft_type, rsLoRA, per-module patterns, unknown targets).
 */
export function parsePeftConfig(value: unknown, source: string): AdapterConfig {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new SyntaxError(`Adapter config "${source}": expected a JSON object, got ${JSON.stringify(value)}`);
  }
  const json = value as Record<string, unknown>;
  checkSupported(json, source);
  const field = <T>(name: string, check: (v: unknown) => v is T): T => {
    if (!check(json[name])) {
      throw new SyntaxError(`Adapter config "${source}": field "${name}" is missing or invalid`);
    }
    return json[name] as T;
  };
  const isNumber = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
  const dropout = json.lora_dropout ?? 0;
  if (!(isNumber(dropout) && dropout >= 0 && dropout < 1)) {
    throw new RangeError(
      `Adapter config "${source}": lora_dropout ${JSON.stringify(dropout)} must be a probability in [0, 1)`,
    );
  }
  const ours = (json.mora_webgpu ?? {}) as Record<string, unknown>;
  let method = typeof ours.method === "string" ? ours.method : json.use_dora ? "dora" : "lora";
  let moraVariant = ours.moraVariant as string | undefined;
  if (json.use_mora) {
    if (method !== "remora") method = "mora";
    if (moraVariant === undefined) {
      const type = field("mora_type", isNumber);
      moraVariant = MORA_VARIANTS.find((v) => MORA_REFERENCE_TYPE[v] === type);
      if (!moraVariant) {
        throw new RangeError(
          `Adapter config "${source}": mora_type ${type} is not supported (1, 2, 3, 4, 6)`,
        );
      }
    }
  }
  return {
    method,
    r: field("r", isNumber),
    alpha: isNumber(json.lora_alpha) ? json.lora_alpha : field("r", isNumber),
    targetModules: targetModules(json.target_modules, source),
    seed: isNumber(ours.seed) ? ours.seed : 0,
    dropout,
    loraPlusRatio: ours.loraPlusRatio as number | undefined,
    freezeA: ours.freezeA as boolean | undefined,
    moraVariant,
    mergeEvery: ours.mergeEvery as number | undefined,
    restartWarmup: ours.restartWarmup as number | undefined,
  };
}

/** Saves adapters as a PEFT directory (both files written atomically); `baseModel` as in {@link peftConfigJson}. */
export async function saveAdapters(
  dir: string,
  config: AdapterConfig,
  adapters: Map<string, AdapterLayer>,
  baseModel?: string,
): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const tensors: Record<string, TensorToWrite> = {};
  for (const [path, adapter] of adapters) {
    for (const [suffix, tensor] of Object.entries(adapter.peftTensors())) {
      tensors[`${PREFIX}${path}.${suffix}`] = { shape: [...tensor.shape], data: await readTensor(tensor) };
    }
  }
  await writeSafetensors(join(dir, "adapter_model.safetensors"), tensors, { format: "pt" });
  // ReMoRA moves every layer to the next grouping at each merge: record the grouping the tensors belong to.
  const mora = [...adapters.values()].find((a) => a instanceof MoraLayer);
  const current = mora ? { ...config, moraVariant: mora.variant } : config;
  const json = JSON.stringify(peftConfigJson(current, baseModel), null, 2) + "\n";
  await writeFileAtomic(join(dir, "adapter_config.json"), new TextEncoder().encode(json));
}

/**
 * Loads a PEFT adapter directory onto a frozen model: applies the configured method to the targeted layers and
 * fills every adapter tensor. Returns the config and the adapters.
 *
 * @throws {RangeError} when a tensor is missing, its shape does not match the model's layer, or the file
 * holds tensors no adapter reads (the config targets fewer modules than were saved).
 */
export async function loadAdapters(
  dir: string,
  model: LlamaModel,
): Promise<{ config: AdapterConfig; adapters: Map<string, AdapterLayer> }> {
  const configPath = join(dir, "adapter_config.json");
  const config = parsePeftConfig(parseJsonFile(await Deno.readTextFile(configPath), configPath), configPath);
  const file = await readSafetensors(join(dir, "adapter_model.safetensors"));
  const adapters = await applyAdapters(model, config);
  const unread = new Set(file.names());
  for (const [path, adapter] of adapters) {
    const written = new Map<Tensor, { name: string; values: Float32Array<ArrayBuffer> }>();
    for (const [suffix, tensor] of Object.entries(adapter.peftTensors())) {
      const name = `${PREFIX}${path}.${suffix}`;
      unread.delete(name);
      if (!file.has(name)) throw new RangeError(`Adapter "${file.source}" has no tensor "${name}"`);
      const shape = file.shape(name);
      if (shape.join(",") !== tensor.shape.join(",")) {
        throw new RangeError(
          `Adapter tensor "${name}" has shape [${shape}] but the model's layer needs [${tensor.shape}]; ` +
            `the adapter was made for another model or rank`,
        );
      }
      const values = file.f32(name);
      checkSameCopy(written.get(tensor), name, values, file.source);
      written.set(tensor, { name, values });
      writeTensor(tensor, values);
    }
  }
  checkAllRead(file.source, unread, configPath);
  return { config, adapters };
}

/** Throws when a tensor saved under two names (MoRA's M as lora_A and lora_B) holds different values. */
function checkSameCopy(
  first: { name: string; values: Float32Array } | undefined,
  name: string,
  values: Float32Array,
  source: string,
): void {
  if (!first) return;
  const at = values.findIndex((v, i) => !Object.is(v, first.values[i]));
  if (at < 0) return;
  throw new RangeError(
    `Adapter "${source}" holds different values under "${first.name}" and "${name}" (first at index ${at}), ` +
      `which store one tensor (peft-mora saves M under both); the file was altered, re-save it`,
  );
}

function checkAllRead(source: string, unread: ReadonlySet<string>, configPath: string): void {
  if (unread.size === 0) return;
  const names = [...unread];
  throw new RangeError(
    `Adapter "${source}" holds ${names.length} tensor(s) no adapter of "${configPath}" reads, such as ` +
      `"${names[0]}"; the config does not describe the file (check target_modules and the method)`,
  );
}

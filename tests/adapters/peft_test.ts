import assert from "node:assert/strict";
import { loadAdapters, parsePeftConfig, peftConfigJson } from "../../lib/adapters/peft.ts";
import type { LlamaModel } from "../../lib/model/llama.ts";
import { ALL_LINEAR_TARGETS } from "../../lib/adapters/registry.ts";

const LORA = peftConfigJson({ method: "lora", r: 4, alpha: 8, targetModules: ["q_proj", "v_proj"], seed: 0 });
// What PEFT itself writes for a plain LoRA: every unsupported field at its "off" value.
const PEFT_DEFAULTS = {
  use_rslora: false,
  alpha_pattern: {},
  rank_pattern: {},
  layers_to_transform: null,
  layers_pattern: null,
  fan_in_fan_out: false,
  modules_to_save: null,
};

Deno.test("parsePeftConfig reads a LORA config with PEFT's defaults, and all-linear as the seven projections", () => {
  const config = parsePeftConfig({ ...LORA, ...PEFT_DEFAULTS }, "cfg.json");
  assert.deepEqual(config.targetModules, ["q_proj", "v_proj"]);
  assert.equal(config.r, 4);
  const all = parsePeftConfig({ ...LORA, target_modules: "all-linear" }, "cfg.json");
  assert.deepEqual(all.targetModules, ALL_LINEAR_TARGETS);
  assert.equal(all.targetModules.length, 7);
  const paths = ["model.layers.0.self_attn.q_proj", "down_proj"];
  assert.deepEqual(parsePeftConfig({ ...LORA, target_modules: paths }, "cfg.json").targetModules, paths);
});

Deno.test("parsePeftConfig refuses other PEFT types by name", () => {
  for (const type of ["IA3", "PREFIX_TUNING", "LOHA"]) {
    assert.throws(
      () => parsePeftConfig({ ...LORA, peft_type: type }, "cfg.json"),
      new RegExp(`"cfg.json": peft_type "${type}" is not supported; only "LORA" adapters`),
    );
  }
});

Deno.test("parsePeftConfig refuses, by name, each field it would misread", () => {
  const cases: [string, unknown, RegExp][] = [
    ["use_rslora", true, /use_rslora true is not supported: rank-stabilized scaling/],
    ["alpha_pattern", { q_proj: 16 }, /alpha_pattern \{"q_proj":16\} is not supported: per-module α/],
    ["rank_pattern", { v_proj: 2 }, /rank_pattern \{"v_proj":2\} is not supported: per-module ranks/],
    ["layers_to_transform", [0], /layers_to_transform \[0\] is not supported: adapting only some layers/],
    ["fan_in_fan_out", true, /fan_in_fan_out true is not supported: Conv1D-style/],
    ["modules_to_save", ["lm_head"], /modules_to_save \["lm_head"\] is not supported: fully trained extra/],
  ];
  for (const [field, value, message] of cases) {
    assert.throws(() => parsePeftConfig({ ...LORA, [field]: value }, "cfg.json"), message, field);
  }
});

Deno.test("parsePeftConfig refuses unknown target names, even next to known ones", () => {
  assert.throws(
    () => parsePeftConfig({ ...LORA, target_modules: ["q_proj", "qkv_proj", "lm_head"] }, "cfg.json"),
    /target_modules "qkv_proj", "lm_head" are not linear layers of this LLaMA; use names among q_proj, /,
  );
  assert.throws(
    () => parsePeftConfig({ ...LORA, target_modules: "all" }, "cfg.json"),
    /field "target_modules" is missing or invalid; expected "all-linear" or a list/,
  );
  assert.throws(
    () => parsePeftConfig({ ...LORA, target_modules: [] }, "cfg.json"),
    /field "target_modules" is missing or invalid/,
  );
});

Deno.test("peftConfigJson names the base model as base_model_name_or_path (null when unknown, as PEFT)", () => {
  const config = { method: "lora", r: 4, alpha: 8, targetModules: ["q_proj"], seed: 0 };
  assert.equal(peftConfigJson(config, "models/llama-2-7b").base_model_name_or_path, "models/llama-2-7b");
  assert.equal(peftConfigJson(config).base_model_name_or_path, null);
  assert.equal(parsePeftConfig(peftConfigJson(config, "models/llama-2-7b"), "cfg").r, 4);
});

Deno.test("an adapter_config.json that is not JSON, or not an object, is refused naming the file", async () => {
  assert.throws(
    () => parsePeftConfig(null, "dir/adapter_config.json"),
    /dir\/adapter_config.json.*JSON object/,
  );
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/adapter_config.json`, '{"peft_type": "LORA",');
    // The config is read before the model is touched, so no model is needed to see the error.
    await assert.rejects(loadAdapters(dir, {} as LlamaModel), /adapter_config.json": it is not valid JSON/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { readSafetensors, writeSafetensors } from "../../lib/io/safetensors.ts";
import { llamaParameterShapes, loadCheckpoint, saveCheckpoint } from "../../lib/model/checkpoint.ts";
import { type LlamaConfig, parseLlamaConfig } from "../../lib/model/config.ts";
import { initLlamaWeights } from "../../lib/model/init.ts";
import { byteTokenizer, llamaByteTokenizer } from "../../lib/data/tokenizer.ts";

const goldenDir = fileURLToPath(new URL("../../testdata/golden/llama-tiny", import.meta.url));

/** A tiny config; `extra` overrides HF fields. */
function tiny(extra: Record<string, unknown> = {}): LlamaConfig {
  return parseLlamaConfig({
    hidden_size: 16,
    intermediate_size: 24,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    vocab_size: 259, // fits the byte tokenizers
    ...extra,
  }, "tiny");
}

/** Runs `body` with a fresh temporary folder, removed afterwards. */
async function withTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("llamaParameterShapes: HF names in fixed order, GQA k/v, lm_head only when untied", () => {
  const shapes = llamaParameterShapes(tiny());
  assert.equal(shapes.length, 1 + 2 * 9 + 2);
  assert.deepEqual(shapes.slice(0, 6).map((s) => s.name), [
    "model.embed_tokens.weight",
    "model.layers.0.input_layernorm.weight",
    "model.layers.0.self_attn.q_proj.weight",
    "model.layers.0.self_attn.k_proj.weight",
    "model.layers.0.self_attn.v_proj.weight",
    "model.layers.0.self_attn.o_proj.weight",
  ]);
  assert.deepEqual(shapes.slice(-2).map((s) => s.name), ["model.norm.weight", "lm_head.weight"]);
  const byName = new Map(shapes.map((s) => [s.name, s.shape]));
  assert.deepEqual(byName.get("model.layers.1.self_attn.k_proj.weight"), [8, 16]);
  assert.deepEqual(byName.get("model.layers.1.mlp.down_proj.weight"), [16, 24]);
  const tied = llamaParameterShapes(tiny({ tie_word_embeddings: true }));
  assert.equal(tied.at(-1)!.name, "model.norm.weight");
});

Deno.test("golden checkpoint: names and shapes match llamaParameterShapes and load as float32", async () => {
  const { config, weights } = await loadCheckpoint(goldenDir);
  const file = await readSafetensors(join(goldenDir, "model.safetensors"));
  const shapes = llamaParameterShapes(config);
  assert.deepEqual(shapes.map((s) => s.name).sort(), file.names().sort());
  for (const { name, shape } of shapes) {
    assert.deepEqual(file.shape(name), shape, name);
    assert.deepEqual(weights.get(name), file.f32(name), name);
  }
});

Deno.test("save then load round-trips a checkpoint that transformers can read", async () => {
  await withTempDir(async (dir) => {
    const config = tiny({ rms_norm_eps: 1e-5 });
    const weights = initLlamaWeights(config, 7);
    await saveCheckpoint(join(dir, "ckpt"), config, weights, byteTokenizer);
    const loaded = await loadCheckpoint(join(dir, "ckpt"));
    assert.deepEqual(loaded.config, config);
    assert.deepEqual(loaded.weights, weights);
    const json = JSON.parse(await Deno.readTextFile(join(dir, "ckpt", "config.json")));
    assert.deepEqual(json.architectures, ["LlamaForCausalLM"]);
    assert.equal(json.model_type, "llama");
    const file = await readSafetensors(join(dir, "ckpt", "model.safetensors"));
    assert.deepEqual(file.metadata, { format: "pt" }); // transformers refuses files without it
    assert.deepEqual(file.names(), llamaParameterShapes(config).map((s) => s.name));
    const entries = await Array.fromAsync(Deno.readDir(join(dir, "ckpt")));
    assert.deepEqual(entries.map((e) => e.name).sort(), [
      "config.json",
      "generation_config.json",
      "model.safetensors",
      "tokenizer.json",
      "tokenizer_config.json",
    ]);
    assert.equal(loaded.tokenizer, byteTokenizer);
  });
});

Deno.test("loading names a missing tensor, a wrong shape and a missing file", async () => {
  await withTempDir(async (dir) => {
    const config = tiny();
    await saveCheckpoint(dir, config, initLlamaWeights(config, 1), byteTokenizer);
    const path = join(dir, "model.safetensors");
    const file = await readSafetensors(path);
    const keep = (skip: string) =>
      Object.fromEntries(
        file.names().filter((n) => n !== skip).map((n) => [n, { shape: file.shape(n), data: file.f32(n) }]),
      );
    await writeSafetensors(path, keep("model.layers.1.mlp.up_proj.weight"));
    await assert.rejects(loadCheckpoint(dir), /Tensor "model.layers.1.mlp.up_proj.weight" is missing from/);
    const tensors = keep("");
    tensors["model.norm.weight"] = { shape: [4, 4], data: new Float32Array(16) };
    await writeSafetensors(path, tensors);
    await assert.rejects(
      loadCheckpoint(dir),
      /Tensor "model.norm.weight" in ".*model.safetensors" has shape \[4, 4\] but config.json implies \[16\]/,
    );
    await Deno.remove(path);
    await assert.rejects(
      loadCheckpoint(dir),
      /Checkpoint file ".*model.safetensors" does not exist; save the model/,
    );
  });
});

Deno.test("loading refuses tensors the config does not account for, and keeps known buffers", async () => {
  await withTempDir(async (dir) => {
    const deep = tiny({ num_hidden_layers: 3 });
    await saveCheckpoint(dir, deep, initLlamaWeights(deep, 1), byteTokenizer);
    // A config.json with fewer layers than the file: layer 2 would be dropped silently.
    const shallow = JSON.parse(await Deno.readTextFile(join(dir, "config.json")));
    await Deno.writeTextFile(join(dir, "config.json"), JSON.stringify({ ...shallow, num_hidden_layers: 2 }));
    await assert.rejects(
      loadCheckpoint(dir),
      /Checkpoint ".*model.safetensors" holds 9 tensor\(s\) its config.json does not account for, such as "model.layers.2\./,
    );
    const config = tiny({ tie_word_embeddings: true });
    const weights = initLlamaWeights(config, 1);
    await saveCheckpoint(dir, config, weights, byteTokenizer);
    const path = join(dir, "model.safetensors");
    const file = await readSafetensors(path);
    const tensors = Object.fromEntries(
      file.names().map((n) => [n, { shape: file.shape(n), data: file.f32(n) }]),
    );
    const vector = { shape: [2], data: new Float32Array(2) };
    tensors["model.layers.0.self_attn.rotary_emb.inv_freq"] = vector;
    tensors["lm_head.weight"] = tensors["model.embed_tokens.weight"]!;
    await writeSafetensors(path, tensors);
    assert.deepEqual((await loadCheckpoint(dir)).weights, weights);
    await writeSafetensors(path, { ...tensors, "model.layers.0.self_attn.q_norm.weight": vector });
    await assert.rejects(loadCheckpoint(dir), /such as "model.layers.0.self_attn.q_norm.weight"/);
  });
});

Deno.test("config.json and generation_config.json carry the BOS/EOS ids of the tokenizer used", async () => {
  await withTempDir(async (dir) => {
    const config = tiny();
    for (const tokenizer of [byteTokenizer, llamaByteTokenizer]) {
      await saveCheckpoint(dir, config, initLlamaWeights(config, 1), tokenizer, () => {});
      for (const file of ["config.json", "generation_config.json"]) {
        const json = JSON.parse(await Deno.readTextFile(join(dir, file)));
        assert.deepEqual([json.bos_token_id, json.eos_token_id], [tokenizer.bos, tokenizer.eos], file);
      }
      assert.equal((await loadCheckpoint(dir)).tokenizer, tokenizer);
    }
    await assert.rejects(
      saveCheckpoint(
        dir,
        tiny({ vocab_size: 200 }),
        initLlamaWeights(tiny({ vocab_size: 200 }), 1),
        byteTokenizer,
      ),
      /its 256 ids do not fit the model's vocabulary of 200/,
    );
  });
});

Deno.test("saving rejects a missing, extra or wrong-sized tensor and writes nothing", async () => {
  await withTempDir(async (dir) => {
    const config = tiny();
    const without = initLlamaWeights(config, 1);
    without.delete("lm_head.weight");
    await assert.rejects(
      saveCheckpoint(dir, config, without, byteTokenizer),
      /tensor "lm_head.weight" is missing; add it/,
    );
    const extra = initLlamaWeights(config, 1).set("model.layers.2.mlp.up_proj.weight", new Float32Array(1));
    await assert.rejects(
      saveCheckpoint(dir, config, extra, byteTokenizer),
      /"model.layers.2.mlp.up_proj.weight": it is not a parameter/,
    );
    const short = initLlamaWeights(config, 1).set("model.norm.weight", new Float32Array(15));
    await assert.rejects(
      saveCheckpoint(dir, config, short, byteTokenizer),
      /"model.norm.weight": it has 15 values but shape \[16\]/,
    );
    assert.deepEqual(await Array.fromAsync(Deno.readDir(dir)), []);
  });
});

Deno.test("init is deterministic in (config, seed) and independent per tensor", () => {
  const config = tiny();
  const a = initLlamaWeights(config, 42);
  const b = initLlamaWeights(config, 42);
  const c = initLlamaWeights(config, 43);
  const deeper = initLlamaWeights(tiny({ num_hidden_layers: 3 }), 42);
  const q = "model.layers.0.self_attn.q_proj.weight";
  assert.deepEqual(new Uint32Array(a.get(q)!.buffer), new Uint32Array(b.get(q)!.buffer));
  assert.notDeepEqual(a.get(q), c.get(q));
  assert.notDeepEqual(a.get(q), a.get("model.layers.0.self_attn.o_proj.weight"));
  for (const [name, values] of a) assert.deepEqual(deeper.get(name), values, name);
});

Deno.test("init statistics: norms are 1, matrices have mean 0 and std 0.02", () => {
  const weights = initLlamaWeights(tiny({ hidden_size: 64, vocab_size: 256 }), 3);
  assert.ok(weights.get("model.layers.1.post_attention_layernorm.weight")!.every((v) => v === 1));
  const values = weights.get("model.embed_tokens.weight")!; // 16384 draws
  const mean = values.reduce((s, v) => s + v, 0) / values.length;
  const std = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / values.length);
  assert.ok(Math.abs(mean) < 0.001, `mean ${mean}`);
  assert.ok(Math.abs(std - 0.02) < 0.0005, `std ${std}`);
  const beyond = values.filter((v) => Math.abs(v) > 0.04).length / values.length; // P(|z| > 2) ≈ 4.55%
  assert.ok(Math.abs(beyond - 0.0455) < 0.006, `tail ${beyond}`);
  assert.throws(() => initLlamaWeights(tiny(), 1.5), /Init seed 1.5 is not an integer/);
});

import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { llamaParameterShapes, loadCheckpoint } from "../../lib/model/checkpoint.ts";
import type { Gpu } from "../../lib/gpu/device.ts";
import { initLlamaWeights } from "../../lib/model/init.ts";
import { obtainBase } from "../../lib/uuid/base.ts";

/** testdata/hf-llama-tiny, written by testdata/make_hf_llama_tiny.ts in the Hub's LLaMA-2 layout. */
const fixtureDir = fileURLToPath(new URL("../../testdata/hf-llama-tiny", import.meta.url));

/** Copies the fixture into a temporary folder for `body` to alter. */
async function withFixtureCopy(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    for await (const entry of Deno.readDir(fixtureDir)) {
      await Deno.copyFile(join(fixtureDir, entry.name), join(dir, entry.name));
    }
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a sharded BF16/F16 LLaMA checkpoint loads as float32, saying so, with its own tokenizer", async () => {
  const lines: string[] = [];
  const { config, weights, tokenizer } = await loadCheckpoint(fixtureDir, (line) => lines.push(line));
  assert.equal(config.vocabSize, 277);
  assert.deepEqual([...weights.keys()], llamaParameterShapes(config).map((s) => s.name));
  assert.equal(lines.length, 1);
  assert.match(
    lines[0]!,
    /model.safetensors.index.json: converted 10 BF16 and 11 F16 tensor\(s\) to float32/,
  );
  // [1, -2.5, 0.1, 1/3] rounded to nearest: BF16 keeps 8 significant bits, F16 11.
  const bf16 = weights.get("model.layers.0.input_layernorm.weight")!;
  assert.deepEqual(Array.from(bf16.subarray(0, 4)), [1, -2.5, 0.10009765625, 0.333984375]);
  const f16 = weights.get("model.norm.weight")!;
  assert.deepEqual(Array.from(f16.subarray(0, 4)), [1, -2.5, 0.0999755859375, 0.333251953125]);
  // Every other value is the seed-3 init rounded to the shard's precision.
  const init = initLlamaWeights(config, 3).get("model.layers.1.mlp.up_proj.weight")!;
  assert.deepEqual(
    weights.get("model.layers.1.mlp.up_proj.weight"),
    Float32Array.from(new Float16Array(init)),
  );
  assert.equal(tokenizer?.bos, 1);
  assert.deepEqual(tokenizer?.encode("hello world"), [271, 276]);
});

Deno.test("a sharded checkpoint still refuses tensors its config does not account for", async () => {
  await withFixtureCopy(async (dir) => {
    const config = JSON.parse(await Deno.readTextFile(join(dir, "config.json")));
    await Deno.writeTextFile(join(dir, "config.json"), JSON.stringify({ ...config, num_hidden_layers: 1 }));
    await assert.rejects(
      loadCheckpoint(dir, () => {}),
      /Checkpoint ".*model.safetensors.index.json" holds 9 tensor\(s\) its config.json does not account for, such as "model.layers.1\./,
    );
  });
});

Deno.test("a sharded checkpoint with a missing shard names the shard to download", async () => {
  await withFixtureCopy(async (dir) => {
    await Deno.remove(join(dir, "model-00002-of-00002.safetensors"));
    await assert.rejects(
      loadCheckpoint(dir, () => {}),
      /Shard ".*model-00002-of-00002.safetensors" named by ".*" does not exist; download every shard/,
    );
  });
});

Deno.test("the UUID suite's --base DIR brings the folder's own tokenizer, which its runs use", async () => {
  const noGpu = undefined as unknown as Gpu; // a base folder is only read
  const base = await obtainBase(noGpu, { kind: "dir", dir: fixtureDir }, "unused-cache", () => {});
  assert.deepEqual(base.tokenizer?.encode("hello world"), [271, 276]);
  assert.equal(base.tokenizer?.bos, 1);
});

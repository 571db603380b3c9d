import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { finetune, type FinetuneRequest } from "../../lib/cli/finetune_run.ts";
import { readSafetensors, writeSafetensors } from "../../lib/io/safetensors.ts";
import { loadCheckpoint } from "../../lib/model/checkpoint.ts";
import { deno } from "../_cli.ts";
import { gpuTest, testGpu } from "../_gpu.ts";

const path = (file: string) => fileURLToPath(new URL(`../../${file}`, import.meta.url));
/** The bundled 2-layer LLaMA in the Hub's layout (sharded BF16/F16, its own sentencepiece-BPE tokenizer.json). */
const BASE = path("testdata/hf-llama-tiny");
const FINETUNE_RUN = ["run", "--allow-read", "--allow-write", "--allow-env", path("lib/cli/finetune.ts")];
const MERGE_RUN = ["run", "--allow-read", "--allow-write", "--allow-env", path("lib/cli/merge.ts")];

const PAIRS = Array.from(
  { length: 6 },
  (_, i) => JSON.stringify({ prompt: `hello ${i}:`, response: ` world ${i}` }),
)
  .join("\n");

/** A run on the tiny base: `method` at rank 2 for 6 steps of 2 pairs. */
function request(dir: string, method: string): FinetuneRequest {
  return {
    base: BASE,
    method,
    rank: 2,
    data: join(dir, "pairs.jsonl"),
    steps: 6,
    lr: 1e-2,
    warmup: 1,
    batch: 2,
    seq: 24,
    dropout: 0.1, // the masks depend on the step, so a resumed run must draw the same ones
    seed: 0,
    tokenizer: "byte",
    logEvery: 2,
  };
}

async function withTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(dir, "pairs.jsonl"), PAIRS);
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const bytesOf = (dir: string, file: string) => Deno.readFile(join(dir, file));

Deno.test({
  name: "finetune: N steps straight equal k steps, saved, then resumed for N − k, bit for bit",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const quiet = () => {};
    // LoRA, and ReMoRA: its merges (every 2 steps), rate restarts and grouping changes cross the stop.
    for (const method of ["lora", "remora"]) {
      await withTempDir(async (dir) => {
        const straight = join(dir, "straight"), split = join(dir, "split");
        const full = await finetune(gpu, request(dir, method), { out: straight, merge: true }, quiet);
        assert.equal(full.step, 6);
        const half = await finetune(
          gpu,
          request(dir, method),
          { out: split, merge: true, stopAfter: 3 },
          quiet,
        );
        assert.equal(half.step, 3);
        await Deno.stat(join(split, "merged")).then(() => assert.fail("merged before the end"), () => {});
        const lines: string[] = [];
        const rest = await finetune(
          gpu,
          undefined,
          { out: split, merge: true, resume: split },
          (l) => lines.push(l),
        );
        assert.equal(rest.step, 6);
        assert.equal(rest.loss, full.loss, method);
        assert.ok(lines.some((l) => /steps 4\.\.6/.test(l)), lines.join("\n"));
        for (
          const file of ["adapter_model.safetensors", "merged/model.safetensors", "state/state.safetensors"]
        ) {
          assert.deepEqual(await bytesOf(split, file), await bytesOf(straight, file), `${method}: ${file}`);
        }
      });
    }
  },
});

Deno.test({
  name: "finetune writes a PEFT adapter naming its base and a merged checkpoint with the base's tokenizer",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    await withTempDir(async (dir) => {
      const out = join(dir, "out");
      await finetune(gpu, request(dir, "mora"), { out, merge: true }, () => {});
      const config = JSON.parse(await Deno.readTextFile(join(out, "adapter_config.json")));
      assert.equal(config.base_model_name_or_path, BASE);
      assert.equal(config.use_mora, true);
      const merged = await loadCheckpoint(join(out, "merged"), () => {});
      assert.deepEqual(merged.tokenizer?.encode("hello world"), [271, 276]); // the base's own tokenizer.json
      const hf = JSON.parse(await Deno.readTextFile(join(out, "merged", "config.json")));
      assert.deepEqual([hf.bos_token_id, hf.eos_token_id], [1, 2]);
      const generation = JSON.parse(await Deno.readTextFile(join(out, "merged", "generation_config.json")));
      assert.deepEqual([generation.bos_token_id, generation.eos_token_id], [1, 2]);

      // deno task merge gives the same merged weights from the saved adapter.
      const cli = await deno([...MERGE_RUN, "--base", BASE, "--adapter", out, "--out", join(dir, "cli")]);
      assert.equal(cli.code, 0, cli.stderr);
      assert.deepEqual(
        await bytesOf(join(dir, "cli"), "model.safetensors"),
        await bytesOf(out, "merged/model.safetensors"),
      );

      // A NaN in the adapter: the merge is refused and nothing is written (PEFT's safe_merge). MoRA stores M
      // under both lora_A and lora_B, which must agree: changing one alone is refused on load.
      const file = await readSafetensors(join(out, "adapter_model.safetensors"));
      const tensors = Object.fromEntries(
        file.names().map((n) => [n, { shape: file.shape(n), data: file.f32(n) }]),
      );
      const [a, b] = file.names().filter((n) => n.includes(".layers.0.self_attn.q_proj."));
      tensors[a!]!.data[0] = NaN;
      await writeSafetensors(join(out, "adapter_model.safetensors"), tensors);
      const altered = await deno([
        ...MERGE_RUN,
        "--base",
        BASE,
        "--adapter",
        out,
        "--out",
        join(dir, "altered"),
      ]);
      assert.equal(altered.code, 1);
      assert.match(altered.stderr, /holds different values under ".*" and ".*" \(first at index 0\)/);
      tensors[b!]!.data[0] = NaN;
      await writeSafetensors(join(out, "adapter_model.safetensors"), tensors);
      const refused = await deno([...MERGE_RUN, "--base", BASE, "--adapter", out, "--out", join(dir, "nan")]);
      assert.equal(refused.code, 1);
      assert.match(
        refused.stderr,
        /error: Cannot merge the adapter of ".*": the merged weight has a non-finite value/,
      );
      assert.deepEqual(await Array.fromAsync(Deno.readDir(join(dir, "nan"))), []);
    });
  },
});

Deno.test("finetune refuses bad flags, naming them, before asking for the GPU", async () => {
  const base = [
    "--base",
    BASE,
    "--method",
    "lora",
    "--rank",
    "2",
    "--data",
    "x.jsonl",
    "--out",
    "/tmp/never",
  ];
  const cases: [string[], RegExp][] = [
    [
      ["--method", "lora", "--steps", "2"],
      /error: Cannot fine-tune without --base; see deno task finetune --help/,
    ],
    [[...base], /error: Cannot fine-tune: give exactly one of --steps and --epochs/],
    [[...base, "--steps", "2", "--epochs", "1"], /exactly one of --steps and --epochs/],
    [[...base, "--steps", "0"], /error: Cannot use --steps "0": expected an integer of at least 1/],
    [[...base, "--steps", "2", "--dropout", "1"], /--dropout "1": expected a probability below 1/],
    [
      ["--resume", "/tmp/never", "--lr", "1e-3"],
      /error: Cannot pass --lr with --resume: a resumed run keeps/,
    ],
    [
      ["--resume", "/tmp/never-saved"],
      /error: No training state "\/tmp\/never-saved\/state\/state.json": resume from/,
    ],
    [[...base, "--steps", "2"], /error: Cannot read --data "x.jsonl": there is no such file/],
    [
      [...base, "--steps", "2", "--method", "nope"],
      /error: Cannot run method "nope": not registered; expected one of/,
    ],
    [[...base, "--steps", "2", "--method", "fft"], /error: Cannot run fft with a rank, variant or options/],
    [
      [...base, "--steps", "2", "--base", "/tmp/typo"],
      /error: Cannot use --base "\/tmp\/typo": it is neither a folder/,
    ],
  ];
  for (const [args, message] of cases) {
    const run = await deno([...FINETUNE_RUN, ...args]);
    assert.equal(run.code, 1, args.join(" "));
    assert.match(run.stderr, message);
    assert.doesNotMatch(run.stdout, /adapter:/);
  }
});

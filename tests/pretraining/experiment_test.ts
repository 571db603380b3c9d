import assert from "node:assert/strict";
import { setupMethod } from "../../lib/experiment/setup.ts";
import { initLlamaWeights } from "../../lib/model/init.ts";
import { trainBatches } from "../../lib/data/batches.ts";
import {
  accumulatedDeltas,
  pretrainRunSize,
  resolvePretrainRun,
  runId,
  runPretrainExperiment,
} from "../../lib/pretraining/experiment.ts";
import { plannedGroups } from "../../lib/pretraining/plan.ts";
import { countAbove, singularValues } from "../../lib/pretraining/spectrum.ts";
import { Trainer } from "../../lib/train/trainer.ts";
import { gpuTest, testGpu } from "../_gpu.ts";
import { TINY_CONFIG, TINY_DATA, TINY_PRESET } from "./_tiny.ts";

const groups = plannedGroups(TINY_PRESET);
const group = (method: string) => groups.find((g) => g.method === method)!;
const spec = (method: string, lr = 1e-2) => ({
  ...group(method),
  preset: "tiny",
  seed: 0,
  lr,
  ...pretrainRunSize(TINY_PRESET),
});

Deno.test(
  "adapters train next to the embeddings, norms and LM head; block projections stay frozen",
  gpuTest,
  async () => {
    const gpu = await testGpu();
    const weights = initLlamaWeights(TINY_CONFIG, 0);
    const run = await setupMethod(
      gpu,
      { config: TINY_CONFIG, weights },
      resolvePretrainRun(TINY_PRESET, spec("lora")),
    );
    try {
      const names = run.model.trainable().map((t) => t.name);
      for (const name of ["model.embed_tokens.weight", "model.norm.weight", "lm_head.weight"]) {
        assert.ok(names.includes(name), name);
      }
      assert.ok(names.includes("model.layers.0.input_layernorm.weight"));
      assert.ok(!names.some((n) => n.endsWith("_proj.weight")), "no block projection weight trains");
      assert.equal(run.adapters.size, 7);
    } finally {
      run.destroy();
    }
  },
);

Deno.test(
  "a run records loss, cost, held-out metrics and the ΔW spectrum; ReLoRA merges",
  gpuTest,
  async () => {
    const gpu = await testGpu();
    const log: string[] = [];
    const lora = await runPretrainExperiment(gpu, TINY_PRESET, spec("lora"), TINY_DATA, {
      role: "table3",
      log: (l) => log.push(l),
    });
    assert.equal(lora.status, "ok", lora.failure);
    assert.equal(lora.id, runId(spec("lora")));
    assert.equal(lora.losses.length, 9);
    assert.ok(lora.msPerStep > 0 && lora.peakBytes > 0);
    assert.ok(lora.validation!.perplexity > 1 && lora.validation!.perplexity < 256);
    assert.deepEqual(lora.spectrum!.map((s) => s.module), [
      "q_proj",
      "k_proj",
      "v_proj",
      "o_proj",
      "gate_proj",
      "up_proj",
      "down_proj",
    ]);
    assert.equal(lora.merges.length, 0);
    const relora = await runPretrainExperiment(gpu, TINY_PRESET, spec("relora"), TINY_DATA, {
      role: "table3",
      log: () => {},
    });
    assert.deepEqual(relora.merges.map((m) => m.step), [3, 6], "no merge after the last update");
    assert.equal(relora.mergeEvery, 3);
    assert.equal(relora.trainableParams, lora.trainableParams, "equal trainable parameters");
    const search = await runPretrainExperiment(gpu, TINY_PRESET, spec("mora"), TINY_DATA, {
      role: "lr-search",
      log: () => {},
    });
    assert.equal(search.validation, undefined, "the search reads training loss only");
    assert.equal(search.spectrum, undefined);
  },
);

/** Trains a method on the tiny data and returns its ΔW per matrix with the numerical rank of each. */
async function deltaRanks(method: string): Promise<number[]> {
  const gpu = await testGpu();
  const initial = initLlamaWeights(TINY_CONFIG, 0);
  const run = await setupMethod(
    gpu,
    { config: TINY_CONFIG, weights: initial },
    resolvePretrainRun(TINY_PRESET, spec(method, 3e-2)),
  );
  const trainer = await Trainer.create(run.model, {
    batch: 2,
    seqLen: 16,
    lr: 3e-2,
    schedule: { kind: "constant", warmupSteps: 0, totalSteps: TINY_PRESET.steps },
  });
  try {
    run.attach(trainer);
    const batches = trainBatches(TINY_DATA.train, { batchSize: 2, seqLen: 16, seed: 0 });
    for (let s = 0; s < TINY_PRESET.steps; s++) {
      const b = batches.next().value;
      await trainer.trainStep(b.inputIds, b.labels);
    }
    const deltas = await accumulatedDeltas(run, initial);
    return deltas.map((d) => countAbove(singularValues(d.delta, d.rows, d.cols), 1e-6));
  } finally {
    trainer.destroy();
    run.destroy();
  }
}

Deno.test(
  "ΔW is the merged parts plus the live adapter: ReLoRA's rank exceeds r, LoRA's never does",
  gpuTest,
  async () => {
    const r = TINY_PRESET.rank;
    const lora = await deltaRanks("lora");
    assert.ok(lora.every((k) => k <= r && k > 0), `LoRA ranks ${lora}`);
    // Three cycles (merges after updates 3 and 6) of rank-r updates with fresh A's.
    const relora = await deltaRanks("relora");
    assert.ok(relora.every((k) => k > r && k <= 3 * r), `ReLoRA ranks ${relora}`);
  },
);

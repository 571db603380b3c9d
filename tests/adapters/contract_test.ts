import assert from "node:assert/strict";
import { mergeAndUnload } from "../../lib/adapters/merge.ts";
import { MORA_VARIANTS } from "../../lib/ops/mora/variants.ts";
import type { LoraLayer } from "../../lib/adapters/lora.ts";
import { loadAdapters, parsePeftConfig, peftConfigJson, saveAdapters } from "../../lib/adapters/peft.ts";
import { ADAPTER_METHODS, ALL_LINEAR_TARGETS, applyAdapters } from "../../lib/adapters/registry.ts";
import type { AdapterMethod } from "../../lib/adapters/types.ts";
import {
  methodLabel,
  type MethodRun,
  type MethodSpec,
  type ResolvedMethod,
  resolveMethod,
  type RunSettings,
  setupMethod,
} from "../../lib/experiment/setup.ts";
import type { Gpu } from "../../lib/gpu/device.ts";
import { runDispatches } from "../../lib/gpu/kernel.ts";
import { readTensor, writeTensor } from "../../lib/gpu/tensor.ts";
import { ODD_CONFIG } from "./_odd_model.ts";
import { initLlamaWeights } from "../../lib/model/init.ts";
import { LlamaModel } from "../../lib/model/llama.ts";
import { buildTrainPlan } from "../../lib/model/train_plan.ts";
import { Trainer } from "../../lib/train/trainer.ts";
import { assertAllClose, Rng } from "../_numeric.ts";
import { gpuTest, testGpu } from "../_gpu.ts";

const CONFIG = ODD_CONFIG;
const WEIGHTS = initLlamaWeights(CONFIG, 3);
const BATCH = 3, SEQ = 7, STEPS = 5;
// Logits of the merged model against the adapter model: both float32, differing only in where ΔW·x is
// summed (ΔW is merged in float64 and rounded once), so ~1e-6 of the logit scale; 2e-5 leaves room.
const MERGE_TOL = { atol: 2e-5, rtol: 1e-4 };

const base = { r: 3, alpha: 6, targetModules: ALL_LINEAR_TARGETS, seed: 7 };

/** One contract case: a spec resolved the way every suite resolves it. */
interface Case {
  label: string;
  resolved: ResolvedMethod;
}

const SETTINGS: RunSettings = { seed: 7, totalSteps: STEPS, dropout: 0 };

function contractCase(spec: MethodSpec, settings: RunSettings = SETTINGS): Case {
  const dropout = settings.dropout ? ` dropout ${settings.dropout}` : "";
  return { label: `${methodLabel(spec)}${dropout}`, resolved: resolveMethod(spec, settings) };
}

/** Merge-restart methods (they hook into the trainer) merge twice in the 5 steps, at 2 and 4. */
const restartOptions = (method: AdapterMethod) =>
  method.attach ? { options: { mergeEvery: 2, restartWarmup: 1 } } : {};

// Every registered adapter method at its defaults, so a newly registered method is covered without editing
// this test (full fine-tuning wraps no layer and has no contract to check here).
const METHOD_CASES: Case[] = Object.entries(ADAPTER_METHODS)
  .filter(([, method]) => !method.trainsBase)
  .map(([name, method]) => contractCase({ method: name, rank: 3, ...restartOptions(method) }));

// On top: original AsyLoRA, input dropout (it trains with masks; logits are compared in eval mode,
// forward-only plans, where merging is exact), and every MoRA variant.
const EXTRA_CASES: Case[] = [
  contractCase({ method: "asylora", rank: 3, options: { freezeA: true } }),
  contractCase({ method: "lora", rank: 3 }, { ...SETTINGS, dropout: 0.1 }),
  contractCase({ method: "dora", rank: 3 }, { ...SETTINGS, dropout: 0.1 }),
  contractCase({ method: "mora", rank: 3, variant: "rotation" }, { ...SETTINGS, dropout: 0.1 }),
  ...MORA_VARIANTS.map((variant) => contractCase({ method: "mora", rank: 3, variant })),
];

// An extra that resolves to the same config as a method case (MoRA's default variant) runs once.
const configKey = (c: Case) => JSON.stringify(c.resolved.adapter);
const CASES: Case[] = [
  ...METHOD_CASES,
  ...EXTRA_CASES.filter((c) => !METHOD_CASES.some((m) => configKey(m) === configKey(c))),
];

Deno.test("the contract covers every registered adapter method and every MoRA variant", () => {
  const adapterNames = Object.entries(ADAPTER_METHODS).filter(([, m]) => !m.trainsBase).map(([n]) => n);
  assert.ok(adapterNames.length >= 7, `only ${adapterNames.length} adapter methods registered`);
  assert.deepEqual([...new Set(CASES.map((c) => c.resolved.spec.method))].sort(), [...adapterNames].sort());
  const moraVariants = new Set(
    CASES.filter((c) => c.resolved.spec.method === "mora").map((c) => c.resolved.adapter!.moraVariant),
  );
  assert.deepEqual([...moraVariants].sort(), [...MORA_VARIANTS].sort());
  for (const c of CASES) {
    if (c.resolved.method.attach) assert.equal(c.resolved.adapter!.mergeEvery, 2, c.label);
  }
});

function batch(seed: number) {
  const rng = new Rng(seed);
  const ids = Uint32Array.from({ length: BATCH * SEQ }, () => rng.int(CONFIG.vocabSize));
  return { ids, labels: Int32Array.from(ids) };
}

async function logits(model: LlamaModel): Promise<Float32Array> {
  const plan = await buildTrainPlan(model, { batch: BATCH, seqLen: SEQ });
  const { ids, labels } = batch(1);
  plan.writeBatch(ids, labels);
  await runDispatches(model.gpu, plan.forward);
  const out = await readTensor(plan.logits);
  plan.destroy();
  return out;
}

function frozenModel(gpu: Gpu): LlamaModel {
  return LlamaModel.create(gpu, CONFIG, WEIGHTS, { trainBase: false });
}

/** Trains the run as every suite does: the method's optimizer groups and its training hooks. */
async function train(run: MethodRun, c: Case): Promise<void> {
  const trainer = await Trainer.create(run.model, {
    batch: BATCH,
    seqLen: SEQ,
    lr: 2e-2,
    schedule: { kind: "constant", warmupSteps: 0, totalSteps: STEPS },
    adamw: { groups: run.groups },
  });
  const merges = run.attach(trainer);
  for (let s = 0; s < STEPS; s++) {
    const { ids, labels } = batch(100 + s);
    await trainer.trainStep(ids, labels, true);
  }
  trainer.destroy();
  const every = c.resolved.adapter!.mergeEvery;
  const expected = every
    ? Array.from({ length: Math.ceil(STEPS / every) - 1 }, (_, i) => (i + 1) * every)
    : [];
  assert.deepEqual(merges.map((m) => m.step), expected, `${c.label}: merge steps`);
}

for (const c of CASES) {
  const { label } = c;
  Deno.test({
    name:
      `${label}: starts as the identity, trains, merges into the base with the same logits, saves and loads`,
    ...gpuTest,
    async fn() {
      const gpu = await testGpu();
      const config = c.resolved.adapter!;
      const plain = frozenModel(gpu);
      const before = await logits(plain);
      plain.destroy();
      const run = await setupMethod(gpu, { config: CONFIG, weights: WEIGHTS }, c.resolved);
      const { model, adapters } = run;
      assert.equal(adapters.size, CONFIG.numHiddenLayers * 7);
      // The initialized adapter does not change the function (B = 0, M = 0, m = ‖W0‖).
      assertAllClose(await logits(model), before, MERGE_TOL, "logits at init");
      await train(run, c);
      const trained = await logits(model);
      let moved = 0;
      for (const a of adapters.values()) {
        for (const d of await a.deltaWeight()) moved = Math.max(moved, Math.abs(d));
      }
      assert.ok(
        moved > 1e-4 || config.mergeEvery,
        `${label}: the adapters did not train (max |ΔW| ${moved})`,
      );
      assert.ok(
        Math.max(...trained.map((v, i) => Math.abs(v - before[i]!))) > 1e-4,
        "training changed nothing",
      );

      const dir = await Deno.makeTempDir();
      await saveAdapters(dir, config, adapters);
      const reloaded = frozenModel(gpu);
      for (const [name, t] of model.weights) reloaded.writeWeight(name, await readTensor(t)); // merged restarts
      const loaded = await loadAdapters(dir, reloaded);
      assert.equal(loaded.config.method, config.method);
      assert.equal(loaded.config.dropout, config.dropout ?? 0);
      assertAllClose(await logits(reloaded), trained, MERGE_TOL, "logits after save and load");

      await mergeAndUnload(model, adapters);
      assertAllClose(await logits(model), trained, MERGE_TOL, "logits after merge");
      for (const a of loaded.adapters.values()) a.destroy();
      reloaded.destroy();
      run.destroy();
      await Deno.remove(dir, { recursive: true });
    },
  });
}

Deno.test({
  name: "adapter configs that do not fit the model get clear errors",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const model = frozenModel(gpu);
    await assert.rejects(
      () => applyAdapters(model, { ...base, method: "vera" }),
      /Unknown adapter method "vera"/,
    );
    await assert.rejects(
      () => applyAdapters(model, { ...base, method: "lora", targetModules: ["query_key_value"] }),
      /No linear layer matches target_modules \[query_key_value\]/,
    );
    await assert.rejects(() => applyAdapters(model, { ...base, method: "relora" }), /mergeEvery/);
    await assert.rejects(
      () => applyAdapters(model, { ...base, method: "lora", dropout: 1 }),
      /Cannot use lora_dropout 1: it must be a probability in \[0, 1\)/,
    );
    const json = peftConfigJson({ ...base, method: "lora", dropout: 0.05 });
    assert.equal(json.lora_dropout, 0.05);
    assert.throws(
      () => parsePeftConfig({ ...json, lora_dropout: 1.5 }, "cfg.json"),
      /"cfg.json": lora_dropout 1.5 must be a probability in \[0, 1\)/,
    );
    const dir = await Deno.makeTempDir();
    const other = frozenModel(gpu);
    await saveAdapters(
      dir,
      { ...base, method: "lora", r: 5 },
      await applyAdapters(other, { ...base, method: "lora", r: 5 }),
    );
    const text = await Deno.readTextFile(`${dir}/adapter_config.json`);
    await Deno.writeTextFile(`${dir}/adapter_config.json`, text.replace('"r": 5', '"r": 4'));
    await assert.rejects(
      () => loadAdapters(dir, model),
      /has shape \[5,30\] but the model's layer needs \[4,30\]/,
    );
    // A config that targets fewer modules than the file holds: the other tensors would be dropped silently.
    await Deno.writeTextFile(
      `${dir}/adapter_config.json`,
      text.replace(/"target_modules": \[[^\]]*\]/, '"target_modules": ["q_proj"]'),
    );
    const fresh = frozenModel(gpu);
    await assert.rejects(
      () => loadAdapters(dir, fresh),
      /holds \d+ tensor\(s\) no adapter of ".*adapter_config.json" reads, such as "base_model\.model\.model\.layers\.\d+\.(self_attn\.[kvo]|mlp\.\w+)_proj\.lora_[AB]\.weight"/,
    );
    fresh.destroy();
    other.destroy();
    model.destroy();
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name:
    "input dropout: training plans draw one mask per step from model.dropoutStep, forward-only plans none",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const model = frozenModel(gpu);
    const adapters = await applyAdapters(model, { ...base, method: "lora", dropout: 0.5 });
    const rng = new Rng(9);
    // A non-zero B, so that the adapter path (and its dropout) changes the logits.
    for (const a of adapters.values()) writeTensor((a as LoraLayer).b, rng.floats((a as LoraLayer).b.size));
    const evaluation = await logits(model);
    const plan = await buildTrainPlan(model, { batch: BATCH, seqLen: SEQ, withBackward: true });
    const { ids, labels } = batch(1);
    plan.writeBatch(ids, labels);
    const training = async (step: number) => {
      model.setDropoutStep(step);
      await runDispatches(gpu, plan.forward);
      return await readTensor(plan.logits);
    };
    const [step1, step2, step1Again] = [await training(1), await training(2), await training(1)];
    const differ = (a: Float32Array, b: Float32Array) => a.some((v, i) => Math.abs(v - b[i]!) > 1e-3);
    assert.ok(differ(step1, evaluation), "the training forward did not apply dropout");
    assert.ok(differ(step1, step2), "steps 1 and 2 drew the same masks");
    assert.deepEqual(step1Again, step1, "the same step must draw the same masks");
    plan.destroy();
    model.destroy();
  },
});

import assert from "node:assert/strict";
import { ADAPTER_METHODS, ALL_LINEAR_TARGETS } from "../../lib/adapters/registry.ts";
import {
  checkFits,
  methodLabel,
  methodSpecOf,
  resolveMethod,
  type RunSettings,
  setupMethod,
} from "../../lib/experiment/setup.ts";
import { restartWarmupOf } from "../../lib/adapters/restarts.ts";
import { llamaParameterShapes } from "../../lib/model/checkpoint.ts";
import { ODD_CONFIG } from "../adapters/_odd_model.ts";
import { initLlamaWeights } from "../../lib/model/init.ts";
import type { Trainer } from "../../lib/train/trainer.ts";
import { gpuTest, testGpu } from "../_gpu.ts";

const CONFIG = ODD_CONFIG;
const SETTINGS: RunSettings = { seed: 7, totalSteps: 100 };

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

Deno.test("resolveMethod fills LoRA's α = 2r and LoRA+'s λ = 4, with the run's seed, targets and dropout", () => {
  const lora = resolveMethod({ method: "lora", rank: 8 }, { ...SETTINGS, dropout: 0.05 });
  assert.deepEqual(lora.adapter, {
    method: "lora",
    r: 8,
    alpha: 16,
    targetModules: ALL_LINEAR_TARGETS,
    seed: 7,
    dropout: 0.05,
  });
  assert.equal(resolveMethod({ method: "lora", rank: 3 }, SETTINGS).adapter?.alpha, 6);
  const plus = resolveMethod({ method: "lora+", rank: 4 }, SETTINGS).adapter!;
  assert.equal(plus.alpha, 8);
  assert.equal(plus.loraPlusRatio, 4);
  assert.equal(plus.dropout, 0, "dropout defaults to 0");
  for (const method of ["asylora", "relora", "dora"]) {
    assert.equal(resolveMethod({ method, rank: 5 }, SETTINGS).adapter?.alpha, 10, `${method}: α = 2r`);
  }
  const targets = resolveMethod({ method: "lora", rank: 2 }, { ...SETTINGS, targetModules: ["q_proj"] });
  assert.deepEqual(targets.adapter?.targetModules, ["q_proj"]);
});

Deno.test("resolveMethod gives MoRA rotation below r = 64 and sharing from 64 on", () => {
  const variant = (rank: number) => resolveMethod({ method: "mora", rank }, SETTINGS).adapter?.moraVariant;
  assert.equal(variant(1), "rotation");
  assert.equal(variant(8), "rotation");
  assert.equal(variant(63), "rotation");
  assert.equal(variant(64), "sharing");
  assert.equal(variant(256), "sharing");
  assert.equal(resolveMethod({ method: "remora", rank: 8 }, SETTINGS).adapter?.moraVariant, "sharing");
});

Deno.test("resolveMethod lays ReLoRA's and ReMoRA's merges out as four cycles of the run", () => {
  for (const method of ["relora", "remora"]) {
    const at = (totalSteps: number) => {
      const a = resolveMethod({ method, rank: 8 }, { ...SETTINGS, totalSteps }).adapter!;
      return [a.mergeEvery, restartWarmupOf(a)];
    };
    // The reference fine-tune: 4,000 updates, a merge every 1,000, a re-warmup of 50.
    assert.deepEqual(at(4000), [1000, 50], method);
    assert.deepEqual(at(1000), [250, 13], method); // 12.5 rounds up
    assert.deepEqual(at(10), [3, 1], method); // round(2.5) = 3; the re-warmup is at least 1
    assert.deepEqual(at(2), [1, 1], method); // at least one update per cycle
  }
  for (const method of ["lora", "mora", "lora+"]) {
    const a = resolveMethod({ method, rank: 8 }, SETTINGS).adapter!;
    assert.equal(a.mergeEvery, undefined, `${method} does not merge`);
  }
});

Deno.test("a spec's variant and options override the method's defaults", () => {
  assert.equal(resolveMethod({ method: "lora", rank: 8, options: { alpha: 4 } }, SETTINGS).adapter?.alpha, 4);
  const plus = resolveMethod({ method: "lora+", rank: 8, options: { loraPlusRatio: 2 } }, SETTINGS).adapter!;
  assert.equal(plus.loraPlusRatio, 2);
  assert.equal(plus.alpha, 16, "an option leaves the other defaults alone");
  const mora = resolveMethod({ method: "mora", rank: 8, variant: "sharing" }, SETTINGS).adapter!;
  assert.equal(mora.moraVariant, "sharing");
  assert.equal(
    resolveMethod({ method: "mora", rank: 128, variant: "rotation" }, SETTINGS).adapter?.moraVariant,
    "rotation",
  );
  const remora = resolveMethod(
    { method: "remora", rank: 8, variant: "sharingContiguous", options: { mergeEvery: 7 } },
    SETTINGS,
  ).adapter!;
  // The re-warmup follows the period the run set (5% of 7 rounds to 0, at least 1), not the default period.
  assert.deepEqual([remora.moraVariant, remora.mergeEvery, restartWarmupOf(remora)], [
    "sharingContiguous",
    7,
    1,
  ]);
  const long = resolveMethod({ method: "relora", rank: 8, options: { mergeEvery: 200 } }, SETTINGS).adapter!;
  assert.equal(restartWarmupOf(long), 10);
  const relora = resolveMethod(
    { method: "relora", rank: 8, options: { mergeEvery: 7, restartWarmup: 0 } },
    SETTINGS,
  ).adapter!;
  assert.deepEqual([relora.mergeEvery, relora.restartWarmup], [7, 0]);
  assert.equal(
    resolveMethod({ method: "asylora", rank: 8, options: { freezeA: true } }, SETTINGS).adapter?.freezeA,
    true,
  );
});

Deno.test("resolveMethod runs fft without an adapter and refuses a rank, variant or options for it", () => {
  const fft = resolveMethod({ method: "fft", rank: null }, SETTINGS);
  assert.equal(fft.adapter, undefined);
  assert.equal(fft.method, ADAPTER_METHODS.fft);
  assert.equal(methodLabel(fft.spec), "fft");
  const refused = /Cannot run fft with a rank, variant or options: it trains every weight and has none/;
  assert.throws(() => resolveMethod({ method: "fft", rank: 8 }, SETTINGS), refused);
  assert.throws(() => resolveMethod({ method: "fft", rank: null, variant: "sharing" }, SETTINGS), refused);
  assert.throws(() => resolveMethod({ method: "fft", rank: null, options: { alpha: 2 } }, SETTINGS), refused);
});

Deno.test("resolveMethod names an unknown method and lists every registered one", () => {
  const names = Object.keys(ADAPTER_METHODS);
  assert.ok(names.includes("fft") && names.includes("remora") && names.length >= 8);
  assert.throws(
    () => resolveMethod({ method: "vera", rank: 8 }, SETTINGS),
    (error: unknown) => {
      assert.ok(error instanceof RangeError);
      assert.match(error.message, /Cannot run method "vera": not registered; expected one of /);
      assert.match(error.message, new RegExp(escape(names.join(", "))));
      return true;
    },
  );
});

Deno.test("resolveMethod refuses a rank that is not a positive integer", () => {
  for (const rank of [0, -2, 2.5, null, NaN]) {
    assert.throws(
      () => resolveMethod({ method: "lora", rank }, SETTINGS),
      new RegExp(`Cannot run lora at rank ${rank}: ranks are positive integers`),
      `rank ${rank}`,
    );
  }
  assert.throws(
    () => resolveMethod({ method: "mora", rank: null }, SETTINGS),
    /Cannot run mora at rank null/,
  );
});

Deno.test("resolveMethod names the spec when its variant or options are invalid", () => {
  assert.throws(
    () => resolveMethod({ method: "mora", rank: 8, variant: "diagonal" }, SETTINGS),
    (error: unknown) =>
      error instanceof RangeError &&
      /^Cannot run mora r=8 \(diagonal\): Cannot use MoRA variant "diagonal": expected one of truncation, /
        .test(error.message),
  );
  assert.throws(
    () => resolveMethod({ method: "remora", rank: 8, variant: "rotation" }, SETTINGS),
    /^RangeError: Cannot run remora r=8 \(rotation\): Cannot use ReMoRA with variant "rotation": use a sharing variant/,
  );
  assert.throws(
    () => resolveMethod({ method: "relora", rank: 8, options: { mergeEvery: 0 } }, SETTINGS),
    /^RangeError: Cannot run relora r=8 \(mergeEvery=0\): Cannot use ReLoRA without mergeEvery/,
  );
  assert.throws(
    () => resolveMethod({ method: "lora+", rank: 8, options: { loraPlusRatio: -1 } }, SETTINGS),
    /^RangeError: Cannot run lora\+ r=8 \(loraPlusRatio=-1\): Cannot use LoRA\+ without a positive loraPlusRatio/,
  );
});

Deno.test("checkFits refuses an inner size above the smaller side of a projection and accepts fitting ones", () => {
  const fits = (method: string, rank: number, variant?: string) =>
    checkFits(resolveMethod({ method, rank, variant }, SETTINGS), CONFIG);
  // k_proj is 10×30: LoRA fits up to r = 10.
  fits("lora", 10);
  fits("relora", 10);
  assert.throws(
    () => fits("lora", 11),
    /Cannot run lora r=11: its inner size 11 exceeds 10, the smaller side of model\.layers\.0\.self_attn\.k_proj\.weight \(10×30\); pick a smaller rank/,
  );
  assert.throws(() => fits("lora+", 11), /Cannot run lora\+ r=11: its inner size 11 exceeds 10/);
  // MoRA's r̂ = round(√((30 + 10)·3)) = 11 on k_proj, rounded down to 10 (even) for rotation: r = 3 fits with
  // rotation and not with sharing; r = 4 gives r̂ = 13 (12 for rotation) and fits with neither.
  fits("mora", 3, "rotation");
  fits("mora", 2, "sharing"); // r̂ = 9
  assert.throws(
    () => fits("mora", 3, "sharing"),
    /Cannot run mora r=3 \(sharing\): its inner size 11 exceeds 10, the smaller side of model\.layers\.0\.self_attn\.k_proj\.weight/,
  );
  assert.throws(() => fits("mora", 4, "rotation"), /its inner size 12 exceeds 10/);
  assert.throws(() => fits("remora", 3), /Cannot run remora r=3: its inner size 11 exceeds 10/);
  // Full fine-tuning has no inner size.
  checkFits(resolveMethod({ method: "fft", rank: null }, SETTINGS), CONFIG);
});

Deno.test({
  name: "setupMethod: fft trains every base tensor with no adapter; lora+ gives lora_B λ times the rate",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const base = { config: CONFIG, weights: initLlamaWeights(CONFIG, 3) };
    const shapes = llamaParameterShapes(CONFIG);
    const total = shapes.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);

    const fft = await setupMethod(gpu, base, resolveMethod({ method: "fft", rank: null }, SETTINGS));
    assert.equal(fft.adapters.size, 0);
    assert.deepEqual(fft.groups, {});
    assert.deepEqual(fft.model.trainable().map((t) => t.name), shapes.map((s) => s.name));
    assert.equal(fft.trainableParams, total);
    for (const { name } of shapes) assert.ok(fft.model.grads.has(name), `${name} has no gradient`);
    const trainer = { afterStep: [] } as unknown as Trainer;
    assert.deepEqual(fft.attach(trainer), []);
    assert.equal(trainer.afterStep.length, 0, "fft installs no training hook");
    fft.destroy();

    const plus = await setupMethod(gpu, base, resolveMethod({ method: "lora+", rank: 2 }, SETTINGS));
    assert.deepEqual(plus.groups, { lora_B: { lrScale: 4 } });
    assert.equal(plus.adapters.size, 7 * CONFIG.numHiddenLayers);
    assert.equal(plus.model.grads.size, 0, "the base is frozen");
    const adapterParams = [...plus.adapters.values()]
      .reduce((n, a) => n + 2 * (a.inFeatures + a.outFeatures), 0); // r (in + out) per layer, r = 2
    assert.equal(plus.trainableParams, adapterParams);
    assert.deepEqual(
      new Set(plus.model.trainable().map((t) => t.group)),
      new Set(["lora_A", "lora_B"]),
    );
    plus.destroy();

    const ratio = await setupMethod(
      gpu,
      base,
      resolveMethod({ method: "lora+", rank: 2, options: { loraPlusRatio: 2 } }, SETTINGS),
    );
    assert.deepEqual(ratio.groups, { lora_B: { lrScale: 2 } });
    ratio.destroy();
    const lora = await setupMethod(gpu, base, resolveMethod({ method: "lora", rank: 2 }, SETTINGS));
    assert.deepEqual(lora.groups, {});
    lora.destroy();
  },
});

Deno.test("methodSpecOf keeps a run spec's method fields only, leaving absent ones out", () => {
  const run = { method: "mora", rank: 8, variant: "rotation", preset: "quick", seed: 0, lr: 0.01, steps: 24 };
  assert.deepEqual(methodSpecOf(run), { method: "mora", rank: 8, variant: "rotation" });
  const withOptions = { method: "lora", rank: 4, options: { alpha: 8 }, base: "b" };
  assert.deepEqual(methodSpecOf(withOptions), { method: "lora", rank: 4, options: { alpha: 8 } });
  assert.ok(!("variant" in methodSpecOf({ method: "fft", rank: null })));
});

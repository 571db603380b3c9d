import assert from "node:assert/strict";
import type { LoraLayer } from "../../lib/adapters/lora.ts";
import type { MoraLayer } from "../../lib/adapters/mora.ts";
import {
  MORA_REFERENCE_TYPE,
  MORA_VARIANTS,
  moraDeltaWeightCpu,
  moraRank,
  type MoraVariant,
  REMORA_CYCLE,
} from "../../lib/ops/mora/reference.ts";
import type { MoraSharingVariant } from "../../lib/ops/mora/variants.ts";
import type { AdapterLayer } from "../../lib/adapters/types.ts";
import { resolveMethod, setupMethod } from "../../lib/experiment/setup.ts";
import { runDispatches } from "../../lib/gpu/kernel.ts";
import { readTensor } from "../../lib/gpu/tensor.ts";
import { ODD_CONFIG } from "./_odd_model.ts";
import { initLlamaWeights } from "../../lib/model/init.ts";
import type { LlamaModel } from "../../lib/model/llama.ts";
import { buildTrainPlan } from "../../lib/model/train_plan.ts";
import { Trainer } from "../../lib/train/trainer.ts";
import { assertAllClose, Rng } from "../_numeric.ts";
import { gpuTest, testGpu } from "../_gpu.ts";

/**
 * Singular values of `a` (rows × cols, row-major), largest first, by one-sided Jacobi (Hestenes) in float64:
 * rotate pairs of columns until all are orthogonal; the singular values are then the column norms.
 */
function singularValues(a: ArrayLike<number>, rows: number, cols: number): number[] {
  // Orthogonalize along the smaller side (the rank and singular values of Aᵀ are those of A).
  const [n, len] = cols <= rows ? [cols, rows] : [rows, cols];
  const at = (i: number, j: number) => cols <= rows ? a[i * cols + j]! : a[j * cols + i]!;
  const u = Array.from({ length: n }, (_, j) => Float64Array.from({ length: len }, (_, i) => at(i, j)));
  // Pairs whose inner product is below this are orthogonal enough: columns of the null space end with norms
  // ~1e-15 of the largest singular value, and rotating their rounding noise would never stop.
  let frobeniusSq = 0;
  for (let i = 0; i < rows * cols; i++) frobeniusSq += a[i]! * a[i]!;
  const negligible = 1e-30 * frobeniusSq;
  for (let sweep = 0; sweep < 100; sweep++) {
    let rotated = false;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const x = u[p]!, y = u[q]!;
        let alpha = 0, beta = 0, gamma = 0;
        for (let i = 0; i < len; i++) {
          alpha += x[i]! * x[i]!;
          beta += y[i]! * y[i]!;
          gamma += x[i]! * y[i]!;
        }
        if (Math.abs(gamma) <= Math.max(1e-15 * Math.sqrt(alpha * beta), negligible)) continue;
        rotated = true;
        const zeta = (beta - alpha) / (2 * gamma);
        const t = (zeta >= 0 ? 1 : -1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t), s = c * t;
        for (let i = 0; i < len; i++) {
          const xi = x[i]!, yi = y[i]!;
          x[i] = c * xi - s * yi;
          y[i] = s * xi + c * yi;
        }
      }
    }
    if (!rotated) {
      return u.map((col) => Math.sqrt(col.reduce((sum, v) => sum + v * v, 0))).sort((a, b) => b - a);
    }
  }
  throw new Error("Jacobi SVD did not converge in 100 sweeps");
}

/** Singular values above `rtol` times the largest. */
function numericalRank(a: ArrayLike<number>, rows: number, cols: number, rtol: number): number {
  const sigma = singularValues(a, rows, cols);
  return sigma.filter((s) => s > rtol * sigma[0]!).length;
}

Deno.test("the rank helper finds the rank and singular values of known matrices", () => {
  // diag(3, 2, 0) embedded in a 4×3 matrix, then rotated on both sides: singular values 3, 2, 0.
  const d = [3, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0];
  const c = Math.cos(0.3), s = Math.sin(0.3);
  const left = [c, -s, 0, 0, s, c, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]; // 4×4
  const right = [1, 0, 0, 0, c, s, 0, -s, c]; // 3×3
  const mul = (x: number[], y: number[], m: number, k: number, n: number) =>
    Array.from({ length: m * n }, (_, ij) => {
      let sum = 0;
      for (let l = 0; l < k; l++) sum += x[Math.floor(ij / n) * k + l]! * y[l * n + (ij % n)]!;
      return sum;
    });
  const a = mul(mul(left, d, 4, 4, 3), right, 4, 3, 3);
  assertAllClose(singularValues(a, 4, 3), [3, 2, 0], { atol: 1e-12, rtol: 0 }, "singular values");
  const transposed = (x: ArrayLike<number>, rows: number, cols: number) =>
    Float64Array.from({ length: rows * cols }, (_, ji) => x[(ji % rows) * cols + Math.floor(ji / rows)]!);
  assertAllClose(singularValues(transposed(a, 4, 3), 3, 4), [3, 2, 0], { atol: 1e-12, rtol: 0 }, "Aᵀ");
  // A sum of k random outer products in 20×15 has rank k.
  const rng = new Rng(5);
  for (const k of [1, 4, 15]) {
    const sum = new Float64Array(20 * 15);
    for (let t = 0; t < k; t++) {
      const u = Array.from({ length: 20 }, () => rng.uniform()),
        v = Array.from({ length: 15 }, () => rng.uniform());
      for (let i = 0; i < 20; i++) for (let j = 0; j < 15; j++) sum[i * 15 + j]! += u[i]! * v[j]!;
    }
    assert.equal(numericalRank(sum, 20, 15, 1e-10), k, `rank ${k}`);
    assert.equal(numericalRank(transposed(sum, 20, 15), 15, 20, 1e-10), k, `rank ${k} of Aᵀ`);
  }
  assert.equal(numericalRank(new Float64Array(6), 2, 3, 1e-10), 0);
});

interface GoldenRemora {
  in_features: number;
  out_features: number;
  r: number;
  remora_sequence: {
    r_hat: number;
    steps: { mora_type: number; M: number[][]; rank_delta_w: number; rank_accumulated: number }[];
    accumulated_delta_w_sum: number;
    accumulated_delta_w_frobenius_sq: number;
    accumulated_delta_w_row0: number[];
    accumulated_delta_w_col0: number[];
  };
}

const golden: { cases: GoldenRemora[] } = JSON.parse(
  await Deno.readTextFile(new URL("../../testdata/golden/mora.json", import.meta.url)),
);

/** Our variant of a reference `mora_type`. */
function variantOfType(type: number): MoraVariant {
  const variant = MORA_VARIANTS.find((v) => MORA_REFERENCE_TYPE[v] === type);
  if (!variant) throw new Error(`No variant has reference type ${type}`);
  return variant;
}

// Every value of the sequences is a multiple of 1/64 (exact in binary), so ΔW and its sums are exact in
// float64; a rank is the count of singular values above 1e-10 of the largest (Jacobi's error is ~1e-15).
const RANK_RTOL = 1e-10;

for (const c of golden.cases) {
  const { in_features: inF, out_features: outF } = c;
  const seq = c.remora_sequence;
  Deno.test(`ReMoRA CPU reference matches the golden merge sequence, ${inF}×${outF} r=${c.r}`, () => {
    assert.ok(seq.steps.length >= 2, "a sequence of at least two merges");
    assert.equal(moraRank(inF, outF, c.r, "sharing"), seq.r_hat, "r̂");
    const accumulated = new Float64Array(outF * inF);
    let variant = variantOfType(seq.steps[0]!.mora_type);
    assert.equal(variant, "sharing", "ReMoRA starts at type 1");
    for (const [i, step] of seq.steps.entries()) {
      const what = `step ${i + 1} (type ${step.mora_type})`;
      if (i > 0) variant = REMORA_CYCLE[variant as MoraSharingVariant];
      assert.equal(variant, variantOfType(step.mora_type), `${what}: the cycle's variant`);
      const M = Float64Array.from(step.M.flat());
      const delta = moraDeltaWeightCpu(inF, outF, M, seq.r_hat, variant);
      for (let k = 0; k < delta.length; k++) accumulated[k]! += delta[k]!;
      assert.equal(numericalRank(delta, outF, inF, RANK_RTOL), step.rank_delta_w, `${what}: rank of ΔW`);
      assert.equal(
        numericalRank(accumulated, outF, inF, RANK_RTOL),
        step.rank_accumulated,
        `${what}: rank of the accumulated ΔW`,
      );
    }
    assert.ok(seq.steps.at(-1)!.rank_accumulated > seq.r_hat, "the golden sequence grows beyond r̂");
    const sum = accumulated.reduce((a, v) => a + v, 0);
    const frobeniusSq = accumulated.reduce((a, v) => a + v * v, 0);
    assertAllClose(
      [sum],
      [seq.accumulated_delta_w_sum],
      { atol: 1e-9, rtol: 0 },
      "sum of the accumulated ΔW",
    );
    assertAllClose(
      [frobeniusSq],
      [seq.accumulated_delta_w_frobenius_sq],
      { atol: 0, rtol: 1e-12 },
      "‖accumulated ΔW‖²",
    );
    assertAllClose(accumulated.subarray(0, inF), seq.accumulated_delta_w_row0, { atol: 0, rtol: 0 }, "row 0");
    assertAllClose(
      Float64Array.from({ length: outF }, (_, o) => accumulated[o * inF]!),
      seq.accumulated_delta_w_col0,
      { atol: 0, rtol: 0 },
      "column 0",
    );
  });
}

// Only the q projections (30×30) are adapted, to keep it small.
const CONFIG = ODD_CONFIG;
const WEIGHTS = initLlamaWeights(CONFIG, 3);
const BATCH = 3, SEQ = 7, STEPS = 6, MERGE_EVERY = 2, LR = 1e-2;
const PATH = "model.layers.0.self_attn.q_proj";
// The q projection's rank: ReLoRA r = 2; ReMoRA r = 1, so r̂ = round(√60) = 8 of 30.
const RANK: Record<string, number> = { relora: 2, remora: 1 };
// A merge adds ΔW (float64) into the float32 weight: one float32 rounding of values of order 0.1.
const MERGE_TOL = { atol: 1e-7, rtol: 1e-6 };
// The accumulated ΔW is read back from float32 weights (rounding ~1e-9 on entries of ΔW ~1e-2): singular
// values below 1e-5 of the largest are that noise.
const GPU_RANK_RTOL = 1e-5;

function batch(seed: number) {
  const rng = new Rng(seed);
  const ids = Uint32Array.from({ length: BATCH * SEQ }, () => rng.int(CONFIG.vocabSize));
  return { ids, labels: Int32Array.from(ids) };
}

/** The loss of the model on a batch through a fresh evaluation plan (its layers as they are now). */
async function evalLoss(model: LlamaModel, ids: Uint32Array, labels: Int32Array): Promise<number> {
  const plan = await buildTrainPlan(model, { batch: BATCH, seqLen: SEQ });
  plan.writeBatch(ids, labels);
  await runDispatches(model.gpu, plan.forward);
  const loss = (await readTensor(plan.stats))[0]!;
  plan.destroy();
  return loss;
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

/** The adapter's trainable tensors read back, by name. */
async function trainableValues(adapter: AdapterLayer): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const t of adapter.trainable()) out.set(t.name, await readTensor(t.value));
  return out;
}

/**
 * After an optimizer reset, AdamW's next update is its first again: bias-corrected m̂/√v̂ = g/|g|, so every
 * entry that started at 0 and has a gradient moves by the learning rate exactly (up to ε = 1e-8 against |g|).
 * Stale moments or a step count that kept counting give other magnitudes.
 */
function assertFirstAdamUpdate(values: Float32Array, lr: number, what: string): void {
  const sizes = Array.from(values, Math.abs);
  assert.ok(
    Math.max(...sizes) <= lr * (1 + 1e-5),
    `${what}: an entry moved by ${Math.max(...sizes)} > lr ${lr}`,
  );
  const atLr = sizes.filter((v) => Math.abs(v - lr) <= 1e-2 * lr).length;
  assert.ok(
    atLr >= 0.9 * sizes.length,
    `${what}: only ${atLr} of ${sizes.length} entries moved by the learning rate ${lr} (first AdamW update)`,
  );
}

for (const method of ["relora", "remora"]) {
  Deno.test({
    name:
      `${method} through setupMethod: merges at 2 and 4, ΔW into the base and reset to 0, optimizer reset` +
      (method === "remora" ? ", grouping cycled, accumulated rank beyond r̂" : ", accumulated rank beyond r"),
    ...gpuTest,
    async fn() {
      const gpu = await testGpu();
      const resolved = resolveMethod(
        { method, rank: RANK[method]!, options: { mergeEvery: MERGE_EVERY, restartWarmup: 1 } },
        { seed: 7, totalSteps: STEPS, targetModules: ["q_proj"] },
      );
      const run = await setupMethod(gpu, { config: CONFIG, weights: WEIGHTS }, resolved);
      assert.equal(run.adapters.size, CONFIG.numHiddenLayers);
      const adapter = run.adapters.get(PATH)!;
      const { inFeatures: inF, outFeatures: outF } = adapter;
      const w0 = Float64Array.from(await readTensor(adapter.base.weight));
      const trainer = await Trainer.create(run.model, {
        batch: BATCH,
        seqLen: SEQ,
        lr: LR,
        schedule: { kind: "constant", warmupSteps: 0, totalSteps: STEPS },
        adamw: { groups: run.groups },
      });
      // Hooks run in order: this one sees each update before the method's hook merges it.
      let beforeMerge: { base: Float32Array; delta: Float64Array } | undefined;
      trainer.afterStep.push(async () => {
        beforeMerge = { base: await readTensor(adapter.base.weight), delta: await adapter.deltaWeight() };
      });
      const merges = run.attach(trainer);
      assert.equal(trainer.afterStep.length, 2, "the method installed its hook");

      const variants: string[] = method === "remora" ? [(adapter as MoraLayer).variant] : [];
      const accumulatedRanks: number[] = [];
      let base = await readTensor(adapter.base.weight);
      let afterMerge: Map<string, Float32Array> | undefined;
      for (let step = 1; step <= STEPS; step++) {
        const { ids, labels } = batch(100 + step);
        // The trainer's own forward computes what a fresh plan computes (the same kernels: equal, here to a few
        // float32 ulps of the loss); a ReMoRA merge that did not rebuild the step would train the old grouping.
        const expectedLoss = await evalLoss(run.model, ids, labels);
        const record = (await trainer.trainStep(ids, labels, true))!;
        assert.ok(
          Math.abs(record.loss - expectedLoss) <= 2e-6,
          `step ${step}: the trainer's loss ${record.loss} is not the model's ${expectedLoss}`,
        );
        const what = `${method} step ${step}`;
        const now = await readTensor(adapter.base.weight);
        const delta = await adapter.deltaWeight();
        assert.deepEqual(beforeMerge!.base, base, `${what}: an update does not touch the frozen base`);
        if (step % MERGE_EVERY === 0 && step < STEPS) {
          // The merge put ΔW into the base weight and reset the adapter to ΔW = 0.
          assert.ok(maxAbs(beforeMerge!.delta) > 1e-3, `${what}: nothing to merge`);
          assertAllClose(
            now,
            Float64Array.from(beforeMerge!.base, (w, i) => w + beforeMerge!.delta[i]!),
            MERGE_TOL,
            `${what}: merged base weight`,
          );
          assert.equal(maxAbs(delta), 0, `${what}: the adapter's ΔW after the merge`);
          afterMerge = await trainableValues(adapter);
          if (method === "remora") {
            const previous = variants.at(-1) as MoraSharingVariant;
            assert.equal((adapter as MoraLayer).variant, REMORA_CYCLE[previous], `${what}: next grouping`);
            variants.push((adapter as MoraLayer).variant);
          }
          accumulatedRanks.push(
            numericalRank(Float64Array.from(now, (w, i) => w - w0[i]!), outF, inF, GPU_RANK_RTOL),
          );
        } else {
          assert.deepEqual(now, base, `${what}: the base weight changes only at a merge`);
          assert.ok(maxAbs(delta) > 1e-4, `${what}: the adapter did not train`);
        }
        if (step > 1 && (step - 1) % MERGE_EVERY === 0) {
          // The first update after a restart: moments and step counts were reset.
          assert.equal(record.lr, LR, `${what}: the restart keeps the rate the schedule had reached`);
          const values = await trainableValues(adapter);
          if (method === "remora") {
            assertFirstAdamUpdate(values.get(`${PATH}.lora_A.weight`)!, record.lr, `${what}: M`);
          } else {
            const lora = adapter as LoraLayer;
            assertFirstAdamUpdate(await readTensor(lora.b), record.lr, `${what}: B`);
            // B was 0, so A had no gradient: with zeroed moments AdamW leaves it where the re-init put it.
            assert.deepEqual(
              await readTensor(lora.a),
              afterMerge!.get(`${PATH}.lora_A.weight`),
              `${what}: A moved without a gradient (stale moments)`,
            );
          }
        }
        base = now;
      }
      assert.deepEqual(merges.map((m) => m.step), [2, 4]);
      assert.ok(merges.every((m) => Number.isFinite(m.ms) && m.ms >= 0));
      if (method === "remora") {
        assert.deepEqual(variants, ["sharing", "sharingContiguous", "sharingContiguousTile"]);
      }

      // The accumulated ΔW: everything merged into the base plus the live adapter's ΔW.
      const live = await adapter.deltaWeight();
      const final = await readTensor(adapter.base.weight);
      accumulatedRanks.push(
        numericalRank(Float64Array.from(final, (w, i) => w - w0[i]! + live[i]!), outF, inF, GPU_RANK_RTOL),
      );
      const cycleRank = method === "remora" ? (adapter as MoraLayer).rank : RANK[method]!;
      assert.ok(accumulatedRanks[0]! <= cycleRank, `one cycle's rank ${accumulatedRanks[0]} > ${cycleRank}`);
      assert.ok(
        accumulatedRanks[1]! > cycleRank && accumulatedRanks[2]! >= accumulatedRanks[1]!,
        `${method}: the accumulated rank after each merge and at the end, ${accumulatedRanks.join(", ")}, ` +
          `does not grow beyond one cycle's ${cycleRank}`,
      );
      console.log(`${method}: accumulated ranks ${accumulatedRanks.join(", ")} (one cycle ≤ ${cycleRank})`);
      trainer.destroy();
      run.destroy();
    },
  });
}

Deno.test({
  name: "a restart resets only the adapters' AdamW state: tensors trained next to them keep theirs",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    // Pretraining from scratch (paper §5.3): embeddings, norms and the LM head train next to the adapters.
    const resolved = resolveMethod(
      { method: "relora", rank: 2, options: { mergeEvery: MERGE_EVERY, restartWarmup: 1 } },
      { seed: 7, totalSteps: STEPS, targetModules: ["q_proj"], trainUnadapted: true },
    );
    const run = await setupMethod(gpu, { config: CONFIG, weights: WEIGHTS }, resolved);
    const trainer = await Trainer.create(run.model, {
      batch: BATCH,
      seqLen: SEQ,
      lr: LR,
      schedule: { kind: "constant", warmupSteps: 0, totalSteps: STEPS },
      adamw: { groups: run.groups },
    });
    try {
      run.attach(trainer);
      for (let step = 1; step <= MERGE_EVERY; step++) {
        const { ids, labels } = batch(200 + step);
        await trainer.trainStep(ids, labels);
      }
      const state = await trainer.optimizer.readState();
      const adapterNames = new Set(
        [...run.adapters.values()].flatMap((a) => a.trainable().map((t) => t.name)),
      );
      const adapters = state.filter((s) => adapterNames.has(s.name));
      const others = state.filter((s) => !adapterNames.has(s.name));
      assert.ok(adapters.length > 0 && others.some((s) => s.name.includes("embed_tokens")));
      for (const s of adapters) {
        assert.equal(s.step, 0, `${s.name}: reset`);
        assert.equal(maxAbs(s.v), 0, `${s.name}: second moment zeroed`);
      }
      for (const s of others) {
        assert.equal(s.step, MERGE_EVERY, `${s.name}: kept its step count`);
        assert.ok(maxAbs(s.v) > 0, `${s.name}: kept its moments`);
      }
    } finally {
      trainer.destroy();
      run.destroy();
    }
  },
});

import assert from "node:assert/strict";
import { methodLabel } from "../../lib/experiment/setup.ts";
import { modelPreset } from "../../lib/model/presets.ts";
import { groupKey, plannedGroups, validatePlan } from "../../lib/pretraining/plan.ts";
import {
  adapterFraction,
  PAPER_FRACTION,
  PRETRAIN_PRESETS,
  pretrainPreset,
  rankForFraction,
} from "../../lib/pretraining/presets.ts";

const quick = pretrainPreset("quick");

Deno.test("the paper's r = 128 maps to the quick model by trainable fraction", () => {
  // 128 · (4 · 1536 + 3 · 3328) / (4 · 768² + 3 · 768 · 2560): a quarter of the 250M model's block weights.
  assert.ok(Math.abs(PAPER_FRACTION - 0.25) < 1e-3, `${PAPER_FRACTION}`);
  const reference = modelPreset("reference");
  assert.equal(rankForFraction(reference, PAPER_FRACTION), 22);
  assert.equal(quick.rank, 22);
  assert.ok(Math.abs(adapterFraction(reference, quick.rank) - PAPER_FRACTION) < 0.01);
  // The paper preset keeps the paper's rank on its own 250M shape.
  assert.equal(rankForFraction(PRETRAIN_PRESETS.paper!.models[0]!.config, PAPER_FRACTION), 128);
});

Deno.test("the plan is the five methods at the preset's rank; only ReLoRA/ReMoRA carry a merge period", () => {
  const groups = plannedGroups(quick);
  assert.deepEqual(groups.map(methodLabel), [
    "fft",
    "lora r=22",
    "mora r=22 (sharing)",
    "relora r=22 (mergeEvery=48, restartWarmup=2)",
    "remora r=22 (sharing, mergeEvery=48, restartWarmup=2)",
  ]);
  assert.equal(groupKey(groups[1]!), "lora r=22 on reference");
  assert.deepEqual(validatePlan(quick, groups, quick.seeds), []);
  assert.deepEqual(plannedGroups(quick, ["lora", "mora"]).map((g) => g.method), ["lora", "mora"]);
  // The paper preset: both shapes, and MoRA's r̂ fits every projection of both.
  const paper = PRETRAIN_PRESETS.paper!;
  assert.deepEqual(plannedGroups(paper).map((g) => g.model), [
    ...Array(5).fill("250M"),
    ...Array(5).fill("1.3B"),
  ]);
  assert.deepEqual(validatePlan(paper, plannedGroups(paper), paper.seeds), []);
});

Deno.test("bad plans get clear errors before any work; a merge period past the run is a warning", () => {
  assert.throws(
    () => pretrainPreset("huge"),
    /Unknown pretraining preset "huge": expected one of quick, smoke, paper/,
  );
  assert.throws(
    () => plannedGroups(quick, ["lora", "dora"]),
    /Cannot run method "dora" in the pretraining suite: expected some of fft, lora, mora, relora, remora/,
  );
  assert.throws(
    () => validatePlan(quick, plannedGroups(quick), [0, quick.searchSeed]),
    /Cannot report seed 100: it is the learning-rate search's seed/,
  );
  // r = 200 gives MoRA r̂ = 226 on the 128×128 projections.
  const big = { ...quick, rank: 200 };
  assert.throws(
    () => validatePlan(big, plannedGroups(big, ["mora"]), [0]),
    /Cannot run mora r=200 \(sharing\): its inner size 226 exceeds 128, the smaller side of .*q_proj/,
  );
  const long = {
    ...quick,
    methodOptions: { relora: { mergeEvery: quick.steps }, remora: { mergeEvery: 1000 } },
  };
  const warnings = validatePlan(long, plannedGroups(long), [0]);
  assert.equal(warnings.length, 2);
  assert.match(
    warnings[0]!,
    /relora r=22 \(mergeEvery=240\) merges every 240 updates but the run has 240: it never merges/,
  );
  assert.match(warnings[1]!, /remora .* merges every 1000 updates/);
});

import assert from "node:assert/strict";
import {
  groupKey,
  lrSearchPath,
  makeFinetuneSuite,
  plannedGroups,
  rebuildFinetuneRecords,
} from "../../benchmarks/finetune.ts";
import { loadAdapters } from "../../lib/adapters/peft.ts";
import { loadTaskData, taskDataDigest } from "../../lib/finetune/data.ts";
import { adapterFolder, finetuneRunId } from "../../lib/finetune/experiment.ts";
import type { FinetuneRunRecord } from "../../lib/records.ts";
import { familySeeds, finetunePreset } from "../../lib/finetune/presets.ts";
import { recordEnvironment } from "../../lib/harness/env.ts";
import type { BenchContext } from "../../lib/harness/suite.ts";
import { LlamaModel } from "../../lib/model/llama.ts";
import { loadCheckpoint } from "../../lib/model/checkpoint.ts";
import { gpuTest, testGpu } from "../_gpu.ts";
import { TINY_PRESET, tinyBench } from "./_tiny.ts";

async function context(log: string[]): Promise<BenchContext> {
  const gpu = await testGpu();
  return {
    gpu,
    environment: await recordEnvironment(gpu.adapter),
    timing: {},
    quick: true,
    progress: (l) => log.push(l),
  };
}

Deno.test("Table 2 plans every method at both ranks on every task; Table 4 every operator at both ranks on math", () => {
  const quick = finetunePreset("quick");
  const t2 = plannedGroups("table2", quick, { preset: "quick", outDir: "x" });
  assert.equal(t2.length, 4 * (1 + 6 * 2));
  const math = t2.filter((g) => g.task === "math").map(groupKey);
  assert.deepEqual(math.slice(0, 3), ["math|fft", "math|lora r=1", "math|lora r=8"]);
  assert.ok(math.includes("math|mora r=1 (rotation)") && math.includes("math|mora r=8 (sharing)"));
  const t4 = plannedGroups("table4", quick, { preset: "quick", outDir: "x" }).map(groupKey);
  assert.deepEqual(
    t4,
    [1, 8].flatMap((r) =>
      ["truncation", "sharing", "decouple", "rotation"].map((v) => `math|mora r=${r} (${v})`)
    ),
  );
});

Deno.test("the quick preset reports three seeds of math and the domains, one of instruction; --seeds sets every family's", () => {
  const quick = finetunePreset("quick");
  assert.deepEqual(familySeeds(quick, "domain"), [0, 1, 2]);
  assert.deepEqual(familySeeds(quick, "math"), [0, 1, 2]);
  assert.deepEqual(familySeeds(quick, "instruction"), [0]);
  assert.deepEqual(familySeeds(quick, "instruction", [0, 1, 2]), [0, 1, 2]);
  assert.deepEqual(familySeeds(quick, "domain", [4, 5]), [4, 5]);
  assert.deepEqual(familySeeds(quick, "math", [4, 5]), [4, 5]);
});

Deno.test("bad input is refused before any training", async () => {
  const outDir = await Deno.makeTempDir();
  const o = await tinyBench(outDir);
  const validate = (extra: object) => makeFinetuneSuite("table2", { ...o, ...extra }).validate!();
  await assert.rejects(() => validate({ tasks: ["chemistry"] }), /Unknown fine-tuning task "chemistry"/);
  await assert.rejects(() => validate({ methods: ["vera"] }), /Cannot run method "vera": not registered/);
  await assert.rejects(() => validate({ seeds: [100] }), /Cannot report seed 100/);
  const domainSeeds = { ...TINY_PRESET.families.domain, seeds: [0, 100] };
  await assert.rejects(
    () =>
      validate({ preset: { ...TINY_PRESET, families: { ...TINY_PRESET.families, domain: domainSeeds } } }),
    /Cannot report seed 100/,
  );
  await assert.rejects(
    () => makeFinetuneSuite("table2", { preset: "paper", outDir, base: o.base }).validate!(),
    /runs the real datasets: pass --data DIR/,
  );
  await assert.rejects(
    () => validate({ tasks: ["math"], preset: { ...TINY_PRESET, maxSeqLen: 16 } }),
    /Cannot run task "math": training example 1 is \d+ tokens, longer than the 16-token context/,
  );
  const data = `${outDir}/data`;
  await Deno.mkdir(`${data}/math`, { recursive: true });
  await Deno.writeTextFile(`${data}/math/train.jsonl`, "");
  await assert.rejects(() => validate({ tasks: ["math"], data }), /math\/train\.jsonl" is empty/);
  await Deno.writeTextFile(
    `${data}/math/train.jsonl`,
    '{"query": "1+1?", "response": "The answer is: 2"}\n{oops\n',
  );
  await assert.rejects(() => validate({ tasks: ["math"], data }), /train\.jsonl:2 is not JSON/);
  await Deno.remove(outDir, { recursive: true });
});

Deno.test({
  name:
    "both suites search, report, journal and resume; a run in both tables trains once; adapters saved in PEFT format",
  ...gpuTest,
  async fn() {
    const outDir = await Deno.makeTempDir();
    const o = {
      ...await tinyBench(outDir),
      ranks: [1],
      tasks: ["math", "finance"],
      methods: ["fft", "mora"],
      saveAdapters: `${outDir}/adapters`,
    };
    const log: string[] = [];
    const first = await makeFinetuneSuite("table2", o).run(await context(log));
    // math: fft (1 rate), mora r1 (2 rates); finance: one rate each of 2 groups.
    const search = first.filter((r) => r.role === "lr-search"),
      reported = first.filter((r) => r.role === "reported"),
      untrained = first.filter((r) => r.role === "base");
    assert.equal(search.length, 1 + 2 + 2);
    // The untrained base, scored once per task: the floor row.
    assert.deepEqual(untrained.map((r) => [r.spec.task, r.steps, Object.keys(r.scores)]), [
      ["math", 0, ["GSM8K", "MATH"]],
      ["finance", 0, ["Finance"]],
    ]);
    assert.equal(reported.length, 4, search.map((r) => `${r.id} ${r.status} ${r.failure}`).join("\n"));
    for (const r of reported) {
      assert.ok(r.status !== "ok" || Object.values(r.scores).every((s) => s >= 0 && s <= 1), r.id);
      assert.deepEqual(Object.keys(r.scores), r.spec.task === "math" ? ["GSM8K", "MATH"] : ["Finance"]);
      if (r.spec.task === "finance") assert.ok(r.perplexity! > 1);
      if (r.spec.task === "math") {
        assert.deepEqual(Object.keys(r.solutionPerplexity!), ["GSM8K", "MATH"]);
        assert.ok(Object.values(r.solutionPerplexity!).every((p) => p > 1), r.id);
      }
    }
    const saved = JSON.parse(await Deno.readTextFile(lrSearchPath(outDir, "tiny")));
    assert.equal(saved.records.length, search.length);
    // The ablation suite: MoRA rotation at r=1 on math is the same run as Table 2's, so it is not trained again.
    const ablationLog: string[] = [];
    const ablation = await makeFinetuneSuite("table4", o).run(await context(ablationLog));
    const operators = ablation.filter((r) => r.role === "reported").map((r) => r.spec.variant);
    const notTrained = ablationLog.filter((l) => l.includes("no rate of the grid trained")).length;
    assert.equal(operators.length + notTrained, TINY_PRESET.ablationVariants.length);
    assert.ok(operators.includes("rotation"));
    // Its search comes from the saved file (not planned again); its reported run and the base's score on
    // math from the journal.
    assert.equal(ablationLog.filter((l) => l.includes("recorded earlier")).length, 2);
    assert.ok(!ablationLog.some((l) => l.includes("lr search: math: mora r=1 (rotation)")));
    // Resume: nothing runs again.
    const again: string[] = [];
    const second = await makeFinetuneSuite("table2", o).run(await context(again));
    assert.deepEqual(second.map((r) => r.id), first.map((r) => r.id));
    assert.equal(
      again.filter((l) => l.includes("recorded earlier")).length,
      reported.length + untrained.length,
    );
    // Saved adapters load back onto the base.
    const mora = reported.find((r) => r.spec.method === "mora")!;
    const dirs = [...Deno.readDirSync(`${outDir}/adapters`)].map((e) => e.name);
    // One folder per reported adapter run of either suite (FFT trains the base: no adapters).
    const adapterRuns = [...reported, ...ablation.filter((r) => r.role === "reported")]
      .filter((r) => r.spec.method !== "fft").map((r) => adapterFolder(r.id));
    assert.deepEqual(dirs.sort(), [...new Set(adapterRuns)].sort());
    const dir = `${outDir}/adapters/${dirs.find((d) => d.includes(`seed0`) && d.includes(mora.spec.task))}`;
    const base = await loadCheckpoint(o.base!, () => {});
    const model = LlamaModel.create(await testGpu(), base.config, base.weights, { trainBase: false });
    const { config } = await loadAdapters(dir, model);
    assert.equal(config.method, "mora");
    model.destroy();
    // The sections render Table 2 and Table 4 with the paper's numbers beside ours.
    const env = (await context([])).environment;
    const t2 = makeFinetuneSuite("table2", o).section(second, env);
    assert.match(t2.tables[0]!.columns.join("|"), /GSM8K ours \(generated word problems.*\)\|GSM8K paper/);
    assert.ok(t2.tables[0]!.rows.some((row) => row[0] === "FFT" && row[6] === 66.6));
    const t4 = makeFinetuneSuite("table4", o).section(ablation as FinetuneRunRecord[], env);
    assert.equal(t4.tables[0]!.rows.length, 1 + TINY_PRESET.ablationVariants.length);
    assert.equal(t4.tables[0]!.rows[0]![0], "Base, not fine-tuned (the floor)");
    assert.equal(t4.tables[0]!.columns[1], "r=1 ours (GSM8K-like analog)");
    // report --rebuild: both suites' records come back from the journal and the saved search.
    const rebuilt = await rebuildFinetuneRecords(outDir, { finetune: [], ablation: [] });
    const ids = (rs: readonly unknown[]) => rs.map((r) => (r as FinetuneRunRecord).id).sort();
    assert.deepEqual(ids(rebuilt.finetune), ids(first));
    assert.deepEqual(ids(rebuilt.ablation), ids(ablation));
    // A resized preset reuses neither the saved search nor the journal: FFT on finance searches and trains anew.
    const longer = { ...TINY_PRESET, families: { ...TINY_PRESET.families } };
    longer.families.domain = { ...longer.families.domain, length: { steps: 7 } };
    const resized: string[] = [];
    const third = await makeFinetuneSuite("table2", {
      ...o,
      preset: longer,
      tasks: ["finance"],
      methods: ["fft"],
    })
      .run(await context(resized));
    assert.deepEqual(third.filter((r) => r.role !== "base").map((r) => [r.role, r.steps]), [
      ["lr-search", 7],
      ["reported", 7],
    ]);
    assert.ok(resized.some((l) => l.includes("lr search: finance: fft")), resized.join("\n"));
    // More cloze items: the saved search (training loss only) still counts, the scored runs are made again.
    const moreItems = { ...TINY_PRESET, sizes: { ...TINY_PRESET.sizes } };
    moreItems.sizes.domain = { ...moreItems.sizes.domain, cloze: 3 };
    const rescored: string[] = [];
    const fourth = await makeFinetuneSuite("table2", { ...o, preset: moreItems, tasks: ["finance"] })
      .run(await context(rescored));
    assert.ok(!rescored.some((l) => l.includes("lr search:")), rescored.join("\n"));
    assert.equal(rescored.filter((l) => l.includes("recorded earlier")).length, 0, rescored.join("\n"));
    assert.deepEqual(fourth.filter((r) => r.role !== "lr-search").map((r) => r.role).sort(), [
      "base",
      "reported",
      "reported",
    ]);
    await Deno.remove(outDir, { recursive: true });
  },
});

Deno.test("a run's id names its training size, so a resized preset never reuses a journaled or searched run", () => {
  const spec = {
    method: "lora",
    rank: 1,
    task: "math",
    preset: "quick",
    seed: 0,
    lr: 0.01,
    steps: 24,
    batch: 4,
    base: "b",
    data: "analog",
  };
  assert.equal(finetuneRunId(spec), "quick|math|lora|r1|-|seed0|lr0.01|steps24xb4|b|analog");
  assert.notEqual(finetuneRunId({ ...spec, steps: 48 }), finetuneRunId(spec));
  // A scored run's id ends in its data digest.
  assert.equal(
    finetuneRunId({ ...spec, dataDigest: "0123456789ab" }),
    "quick|math|lora|r1|-|seed0|lr0.01|steps24xb4|b|analog|data0123456789ab",
  );
});

Deno.test("the data digest follows the scored items and scoring sizes, not the object", async () => {
  const quick = finetunePreset("quick");
  const data = await loadTaskData("finance", quick);
  const digest = taskDataDigest(data, quick);
  assert.match(digest, /^[0-9a-f]{12}$/);
  assert.equal(taskDataDigest(await loadTaskData("finance", quick), quick), digest);
  const fewer = { ...quick, sizes: { ...quick.sizes, domain: { ...quick.sizes.domain, cloze: 100 } } };
  assert.notEqual(taskDataDigest(await loadTaskData("finance", fewer), fewer), digest);
  assert.notEqual(taskDataDigest(data, { ...quick, perplexityBatches: 2 }), digest);
});

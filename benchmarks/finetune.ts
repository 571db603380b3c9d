/**
 * The fine-tuning suites: `finetune` (paper Table 2: every method at the small and large rank on the
 * instruction, math and two domain tasks) and `ablation` (paper Table 4: MoRA's four compress/decompress
 * operators at both ranks on the math task). Both run on the analogs (`lib/finetune/`), or on the real
 * datasets with `--data DIR`. Each (task, method, rank) trains at its own rate, chosen by the experiment
 * layer's search on a seed no reported run uses (`lib/experiment/lr_search.ts`); the search's records are
 * kept in `<out>/lr-search-finetune-<preset>.json`, shared by both suites, so a committed search is reused
 * and only the points it lacks are searched (`--lr-search` searches again). Every run goes through the run
 * matrix, journaled in `<out>/finetune-<preset>.jsonl` (one journal for both suites: a run in both tables,
 * such as MoRA with rotation at the small rank on math, trains once) and resumed after any interruption.
 *
 * @module
 */

import { readSearchFile, saveSearchFile, searchFilePath } from "../lib/experiment/search_file.ts";
import { join } from "node:path";
import { ADAPTER_METHODS } from "../lib/adapters/registry.ts";
import { getTokenizer, type Tokenizer } from "../lib/data/tokenizer.ts";
import { chooseRate, finalTrainingLoss, type GridPoint } from "../lib/experiment/lr_search.ts";
import { type MatrixRun, readJournal, runMatrix } from "../lib/experiment/matrix.ts";
import { checkFits, methodLabel, type MethodSpec, methodSpecOf } from "../lib/experiment/setup.ts";
import type { BenchContext, BenchSuite } from "../lib/harness/suite.ts";
import { finetuneBaseConfig, type FinetuneBaseSpec, obtainFinetuneBase } from "../lib/finetune/base.ts";
import { loadTaskData, taskDataDigest } from "../lib/finetune/data.ts";
import type { FinetuneRunRecord, FinetuneRunRole, FinetuneRunSpec } from "../lib/records.ts";
import {
  checkTaskFits,
  finetuneRunId,
  resolveFinetuneRun,
  runFinetuneExperiment,
  scoreUntrainedBase,
  taskSteps,
  untrainedBaseId,
  untrainedBaseSpec,
} from "../lib/finetune/experiment.ts";
import {
  familySeeds,
  FINETUNE_PRESETS,
  type FinetunePreset,
  finetunePreset,
  lrGrid,
} from "../lib/finetune/presets.ts";
import { finetuneTask, type TaskData, type TaskFamily } from "../lib/finetune/tasks.ts";
import { ablationSection } from "../lib/report/ablation_section.ts";
import { finetuneSection } from "../lib/report/finetune_section.ts";
import type { BaseModel } from "../lib/uuid/base.ts";

/** What the bench command line selects. */
export interface FinetuneBenchOptions {
  /** Preset name (`quick`, `smoke` or `paper`), or a preset object (tests use tiny ones). */
  preset: string | FinetunePreset;
  /** Methods of Table 2 (default: the preset's). */
  methods?: string[];
  /** Ranks (default: the preset's small and large rank). */
  ranks?: number[];
  /** Seeds of the reported runs (default: the preset's). */
  seeds?: number[];
  /** Tasks of Table 2 (default: all four). */
  tasks?: string[];
  /** Search the learning rates again, ignoring the saved search. */
  lrSearch?: boolean;
  /** A Hugging Face LLaMA directory as the base (required by the paper preset). */
  base?: string;
  /** A directory of the real datasets (`lib/finetune/readers.ts`; required by the paper preset). */
  data?: string;
  /** Save every reported adapter run's adapters in PEFT format under this directory. */
  saveAdapters?: string;
  /** Where runs are journaled, the search is saved and the base is cached. */
  outDir: string;
}

/** A (task, method, rank, variant) group: every run of it differs only in seed and rate. */
export interface FinetuneGroup {
  task: string;
  spec: MethodSpec;
}

/** The key of a group. */
export function groupKey(g: { task: string } & MethodSpec | FinetuneGroup): string {
  const spec = "spec" in g ? g.spec : g;
  return `${g.task}|${methodLabel(spec)}`;
}

/** Which table a suite fills. */
export type FinetuneTable = "table2" | "table4";

/** The operators' task: Table 4 is on GSM8K, here the math task. */
export const ABLATION_TASK = "math";

/** The groups of a suite's plan, in table order. */
export function plannedGroups(
  table: FinetuneTable,
  preset: FinetunePreset,
  o: FinetuneBenchOptions,
): FinetuneGroup[] {
  const ranks = o.ranks ?? preset.ranks;
  const small = Math.min(...ranks);
  if (table === "table4") {
    return ranks.flatMap((rank) =>
      preset.ablationVariants.map((variant) => ({
        task: ABLATION_TASK,
        spec: { method: "mora", rank, variant },
      }))
    );
  }
  const groups: FinetuneGroup[] = [];
  for (const task of o.tasks ?? preset.tasks) {
    for (const method of o.methods ?? preset.methods) {
      if (ADAPTER_METHODS[method]?.trainsBase) {
        groups.push({ task, spec: { method, rank: null } });
        continue;
      }
      for (const rank of ranks) {
        const variant = preset.variants[method]?.[rank <= small ? 0 : 1];
        groups.push({ task, spec: { method, rank, ...variant ? { variant } : {} } });
      }
    }
  }
  return groups;
}

/** Whether a group is at the large rank (its grid may differ, as Table 6's MoRA at r = 256). */
function isLarge(preset: FinetunePreset, o: FinetuneBenchOptions, g: FinetuneGroup): boolean {
  const ranks = o.ranks ?? preset.ranks;
  return ranks.length > 1 && g.spec.rank === Math.max(...ranks);
}

/** Path of the saved search of a preset, shared by both suites. */
export function lrSearchPath(outDir: string, preset: string): string {
  return searchFilePath(outDir, "finetune", preset);
}

/** The saved search records (none when the file is absent); a file that is not a search is refused. */
export function readLrSearch(outDir: string, preset: string): Promise<FinetuneRunRecord[]> {
  return readSearchFile<FinetuneRunRecord>(lrSearchPath(outDir, preset));
}

function saveLrSearch(outDir: string, preset: string, records: FinetuneRunRecord[]): Promise<void> {
  return saveSearchFile(lrSearchPath(outDir, preset), preset, records);
}

/** The grid of a group as its search records show it. */
export function gridOf(records: readonly FinetuneRunRecord[]): GridPoint[] {
  return records.map((r) => ({ lr: r.spec.lr, status: r.status, criterion: finalTrainingLoss(r.losses) }));
}

/** Task data, loaded once per (task, preset and its sizes, data directory) in a process (both suites use it). */
const dataCache = new Map<string, Promise<TaskData>>();

function taskData(task: string, preset: FinetunePreset, dataDir?: string): Promise<TaskData> {
  const key = `${task}|${preset.name}|${JSON.stringify(preset.sizes)}|${dataDir ?? "analog"}`;
  if (!dataCache.has(key)) {
    // A failed read is not kept: the next call reads the files again.
    dataCache.set(
      key,
      loadTaskData(task, preset, dataDir).catch((error) => {
        dataCache.delete(key);
        throw error;
      }),
    );
  }
  return dataCache.get(key)!;
}

function baseSpec(preset: FinetunePreset, o: FinetuneBenchOptions): FinetuneBaseSpec | string {
  if (o.base) return o.base;
  if (!preset.base) {
    throw new RangeError(`The "${preset.name}" preset needs a Hugging Face LLaMA directory: pass --base DIR`);
  }
  return preset.base;
}

/**
 * Throws, naming what is wrong, unless the whole plan can run: the preset's needs (`--base`, `--data`), the
 * reported seeds, every task known and its data readable and fitting the context, every group resolving and
 * fitting the base, and the saved search readable.
 */
export async function validatePlan(table: FinetuneTable, preset: FinetunePreset, o: FinetuneBenchOptions) {
  if (preset.needsData && !o.data) {
    throw new RangeError(`The "${preset.name}" preset runs the real datasets: pass --data DIR (see --help)`);
  }
  const families = Object.keys(preset.families) as TaskFamily[];
  if (families.some((f) => familySeeds(preset, f, o.seeds).includes(preset.searchSeed))) {
    throw new RangeError(
      `Cannot report seed ${preset.searchSeed}: it is the learning-rate search's seed; pick other seeds`,
    );
  }
  const groups = plannedGroups(table, preset, o);
  const config = await finetuneBaseConfig(baseSpec(preset, o));
  const tokenizer = getTokenizer(preset.tokenizer);
  for (const task of new Set(groups.map((g) => g.task))) {
    finetuneTask(task);
    checkTaskFits(task, await taskData(task, preset, o.data), preset, config, tokenizer);
  }
  for (const g of groups) {
    const spec = {
      ...g.spec,
      task: g.task,
      preset: preset.name,
      seed: 0,
      lr: 1,
      steps: 100,
      batch: preset.batch,
      base: "",
      data: "",
    };
    checkFits(resolveFinetuneRun(preset, spec, 100), config);
  }
  if (!o.lrSearch) await readLrSearch(o.outDir, preset.name);
}

class FinetunePlan {
  constructor(
    readonly ctx: BenchContext,
    readonly preset: FinetunePreset,
    readonly o: FinetuneBenchOptions,
    readonly base: BaseModel,
    readonly baseName: string,
    readonly data: Map<string, TaskData>,
    readonly tokenizer: Tokenizer,
  ) {}

  /** Each task's {@link taskDataDigest}, computed once. */
  readonly #digests = new Map<string, string>();

  digest(task: string): string {
    if (!this.#digests.has(task)) this.#digests.set(task, taskDataDigest(this.data.get(task)!, this.preset));
    return this.#digests.get(task)!;
  }

  /** A run's spec; a reported run's (scored) carries its data digest, a search run's does not. */
  spec(g: FinetuneGroup, seed: number, lr: number, scored = false): FinetuneRunSpec {
    return {
      ...methodSpecOf(g.spec),
      task: g.task,
      preset: this.preset.name,
      seed,
      lr,
      steps: taskSteps(this.preset, this.data.get(g.task)!, this.tokenizer),
      batch: this.preset.batch,
      base: this.baseName,
      data: this.o.data ?? "analog",
      ...scored ? { dataDigest: this.digest(g.task) } : {},
    };
  }

  /** The un-fine-tuned base scored on each task: the floor row of the tables. */
  untrainedBase(tasks: Iterable<string>): MatrixRun<FinetuneRunRecord>[] {
    return [...tasks].map((task) => {
      const spec = untrainedBaseSpec(task, {
        preset: this.preset.name,
        base: this.baseName,
        data: this.o.data ?? "analog",
        dataDigest: this.digest(task),
      });
      return {
        id: untrainedBaseId(spec),
        label: `${task}: the untrained base`,
        execute: () =>
          scoreUntrainedBase(
            this.ctx.gpu,
            this.preset,
            spec,
            this.base,
            this.data.get(task)!,
            this.ctx.progress,
          ),
      };
    });
  }

  run(spec: FinetuneRunSpec, role: Exclude<FinetuneRunRole, "base">): MatrixRun<FinetuneRunRecord> {
    return {
      id: finetuneRunId(spec),
      label: `${role === "lr-search" ? "lr search: " : ""}${spec.task}: ${
        methodLabel(spec)
      } seed ${spec.seed} lr ${spec.lr}`,
      execute: () =>
        runFinetuneExperiment(this.ctx.gpu, this.preset, spec, this.base, this.data.get(spec.task)!, {
          role,
          log: this.ctx.progress,
          saveAdaptersDir: this.o.saveAdapters,
        }),
    };
  }

  matrix(runs: MatrixRun<FinetuneRunRecord>[]): Promise<FinetuneRunRecord[]> {
    return runMatrix(runs, {
      journal: join(this.o.outDir, `finetune-${this.preset.name}.jsonl`),
      environment: this.ctx.environment,
      preset: this.preset.name,
      log: this.ctx.progress,
    });
  }

  grid(g: FinetuneGroup): number[] {
    return lrGrid(this.preset, finetuneTask(g.task).family, g.spec.method, isLarge(this.preset, this.o, g));
  }

  /** The search records of every group: the saved ones on its grid, plus a run of every rate they lack. */
  async search(groups: readonly FinetuneGroup[], saved: readonly FinetuneRunRecord[]) {
    // A saved point counts only if it is the very run this plan would make (same base, data and size).
    const ours = saved.filter((r) =>
      this.data.has(r.spec.task) &&
      finetuneRunId(this.spec({ task: r.spec.task, spec: r.spec }, r.spec.seed, r.spec.lr)) === r.id
    );
    const has = (g: FinetuneGroup, lr: number) =>
      ours.some((r) => groupKey(r.spec) === groupKey(g) && r.spec.lr === lr);
    const runs = groups.flatMap((g) =>
      this.grid(g).filter((lr) => !has(g, lr)).map((lr) =>
        this.run(this.spec(g, this.preset.searchSeed, lr), "lr-search")
      )
    );
    const fresh = await this.matrix(runs);
    const kept = ours.filter((r) =>
      groups.some((g) => groupKey(g) === groupKey(r.spec) && this.grid(g).includes(r.spec.lr))
    );
    return { all: [...saved, ...fresh], mine: [...kept, ...fresh] };
  }

  /**
   * The reported runs of each group at its chosen rate, one per seed of its family (none when no rate of its
   * grid trained).
   */
  table(groups: readonly FinetuneGroup[], search: readonly FinetuneRunRecord[]) {
    return groups.flatMap((g) => {
      const lr = chooseRate(gridOf(search.filter((r) => groupKey(r.spec) === groupKey(g))));
      if (lr === undefined) {
        this.ctx.progress(`${groupKey(g)}: no rate of the grid trained; no reported runs (see the search)`);
        return [];
      }
      const seeds = familySeeds(this.preset, finetuneTask(g.task).family, this.o.seeds);
      return seeds.map((seed) => this.run(this.spec(g, seed, lr, true), "reported"));
    });
  }
}

/** One of the two suites for the given options. */
export function makeFinetuneSuite(
  table: FinetuneTable,
  o: FinetuneBenchOptions,
): BenchSuite<FinetuneRunRecord> {
  const preset = typeof o.preset === "string" ? finetunePreset(o.preset) : o.preset;
  const table2 = table === "table2";
  return {
    name: table2 ? "finetune" : "ablation",
    description: table2
      ? `Fine-tuning analogs, preset ${preset.name} (paper Table 2)`
      : `MoRA's compress/decompress operators on the math analog, preset ${preset.name} (paper Table 4)`,
    validate: () => validatePlan(table, preset, o),
    async run(ctx) {
      await validatePlan(table, preset, o);
      const groups = plannedGroups(table, preset, o);
      const spec = baseSpec(preset, o);
      const base = await obtainFinetuneBase(ctx.gpu, spec, join(o.outDir, "cache"), ctx.progress);
      const tokenizer = base.tokenizer ?? getTokenizer(preset.tokenizer);
      const data = new Map<string, TaskData>();
      for (const task of new Set(groups.map((g) => g.task))) {
        data.set(task, await taskData(task, preset, o.data));
        checkTaskFits(task, data.get(task)!, preset, base.config, tokenizer);
      }
      const baseName = typeof spec === "string" ? spec : base.dir.split("/").at(-1)!;
      const plan = new FinetunePlan(ctx, preset, o, base, baseName, data, tokenizer);
      const saved = o.lrSearch ? [] : await readLrSearch(o.outDir, preset.name);
      const search = await plan.search(groups, saved);
      await saveLrSearch(o.outDir, preset.name, search.all);
      const reported = await plan.matrix([
        ...plan.untrainedBase(data.keys()),
        ...plan.table(groups, search.mine),
      ]);
      return [...search.mine, ...reported];
    },
    section: (records, environment) =>
      table2 ? finetuneSection(records, environment) : ablationSection(records, environment),
  };
}

/**
 * Whether a record is a row of the suite's table: the untrained base's of its tasks (both tables' floor row);
 * Table 4 holds MoRA on the math task at every operator;
 * Table 2 every record but MoRA at an operator other than its preset's for that rank (rotation at the small
 * rank, sharing at the large one). `smallRank` is the smaller rank of the records' preset.
 */
export function inTable(table: FinetuneTable, r: FinetuneRunRecord, smallRank: number): boolean {
  if (r.role === "base") return table === "table2" || r.spec.task === ABLATION_TASK;
  if (table === "table4") return r.spec.task === ABLATION_TASK && r.spec.method === "mora";
  const variants = FINETUNE_PRESETS[r.spec.preset]?.variants ?? FINETUNE_PRESETS.quick!.variants;
  const expected = r.spec.rank === null
    ? undefined
    : variants[r.spec.method]?.[r.spec.rank <= smallRank ? 0 : 1];
  return expected === undefined || r.spec.variant === expected;
}

/**
 * The records of both suites rebuilt from every `finetune-<preset>.jsonl` journal and saved search in
 * `outDir`, for `deno task report --rebuild`; `latest` (the suites' records of `results.jsonl`) win by id.
 */
export async function rebuildFinetuneRecords(
  outDir: string,
  latest: { finetune: readonly unknown[]; ablation: readonly unknown[] },
): Promise<{ finetune: unknown[]; ablation: unknown[] }> {
  const all: FinetuneRunRecord[] = [];
  for await (const entry of Deno.readDir(outDir)) {
    const preset = /^finetune-(.+)\.jsonl$/.exec(entry.name)?.[1];
    if (!entry.isFile || preset === undefined) continue;
    all.push(...await readLrSearch(outDir, preset));
    all.push(...(await readJournal<FinetuneRunRecord>(join(outDir, entry.name))).values());
  }
  const small = (preset: string) =>
    Math.min(...all.filter((r) => r.spec.preset === preset).flatMap((r) => r.spec.rank ?? []));
  const of = (table: FinetuneTable, newest: readonly unknown[]) => {
    const byId = new Map<string, unknown>();
    for (const r of all) if (inTable(table, r, small(r.spec.preset))) byId.set(r.id, r);
    for (const r of newest) byId.set((r as { id: string }).id, r);
    return [...byId.values()];
  };
  return { finetune: of("table2", latest.finetune), ablation: of("table4", latest.ablation) };
}

/**
 * The UUID memorization suite (paper Table 1, Figures 2–3): FFT, LoRA and MoRA at the preset's small and large
 * rank, plus the LoRA rank sweep, for every seed. Each (method, rank) trains at its own learning rate, chosen
 * by a search on a seed no reported run uses (`lib/experiment/lr_search.ts`); the search's records are kept
 * in `<out>/lr-search-uuid-<preset>.json`, so a committed search is reused and only the rates it lacks are
 * searched (`--lr-search` runs it again; `--lrs` runs a fixed grid instead). Every run goes through the run
 * matrix: journaled at once (fsynced), resumed after any interruption, recorded with its status.
 *
 * Sharded (`--shard i/N`), each shard runs its part of the matrix. A group the saved search lacks is searched
 * across the shards, so its reported runs cannot be planned until the shards are merged: they are deferred
 * (listed in the shard's manifest), and a second sharded run with the merged search file runs them.
 *
 * @module
 */

import { readSearchFile, saveSearchFile, searchFilePath } from "../lib/experiment/search_file.ts";
import { join } from "node:path";
import { ADAPTER_METHODS } from "../lib/adapters/registry.ts";
import { chooseRate, finalTrainingLoss, type GridPoint, updatedSearch } from "../lib/experiment/lr_search.ts";
import { type MatrixRun, runMatrix } from "../lib/experiment/matrix.ts";
import { checkFits, methodLabel, type MethodSpec, methodSpecOf } from "../lib/experiment/setup.ts";
import type { BenchContext, BenchSuite } from "../lib/harness/suite.ts";
import type { LlamaConfig } from "../lib/model/config.ts";
import { uuidSection } from "../lib/report/uuid_section.ts";
import { baseConfig, type BaseModel, type BaseSpec, obtainBase } from "../lib/uuid/base.ts";
import type { UuidRunRecord, UuidRunRole, UuidRunSpec } from "../lib/records.ts";
import { resolveUuidRun, runId, runUuidExperiment, uuidRunSize } from "../lib/uuid/experiment.ts";
import { type UuidPreset, uuidPreset } from "../lib/uuid/presets.ts";

/** What the bench command line selects. */
export interface UuidBenchOptions {
  /** Preset name (`quick` or `paper`), or a preset object (tests use tiny ones). */
  preset: string | UuidPreset;
  /** Methods of Table 1 (default fft, lora, mora); the LoRA sweep runs when lora is among them. */
  methods?: string[];
  /** Ranks of Table 1 (default: the preset's small and large rank). */
  ranks?: number[];
  /** Seeds of the reported runs (default: the preset's). */
  seeds?: number[];
  /** Fixed learning rates for every method, instead of the searched ones (a grid study). */
  lrs?: number[];
  /** Search the learning rates again, ignoring the saved search. */
  lrSearch?: boolean;
  /** A Hugging Face LLaMA directory to use as the base (required by the paper preset). */
  base?: string;
  /** Where runs are journaled, the search is saved and the base model is cached. */
  outDir: string;
}

const TABLE_METHODS = ["fft", "lora", "mora"];
/** The method whose rank sweep is Figure 2. */
const SWEEP_METHOD = "lora";

/** The (method, rank) groups of the plan, in order: Table 1's, then the rest of the LoRA sweep. */
export function plannedGroups(preset: UuidPreset, o: UuidBenchOptions): MethodSpec[] {
  const ranks = o.ranks ?? preset.ranks;
  const small = Math.min(...ranks);
  const groups: MethodSpec[] = [];
  const add = (method: string, rank: number | null) => {
    const variant = rank === null ? undefined : preset.variants[method]?.[rank <= small ? 0 : 1];
    const spec = { method, rank, ...variant ? { variant } : {} };
    if (!groups.some((g) => methodLabel(g) === methodLabel(spec))) groups.push(spec);
  };
  const methods = o.methods ?? TABLE_METHODS;
  for (const method of methods) {
    // A method without a rank (full fine-tuning) is one group.
    if (ADAPTER_METHODS[method]?.trainsBase) add(method, null);
    else for (const rank of ranks) add(method, rank);
  }
  if (methods.includes(SWEEP_METHOD)) { for (const rank of preset.sweepRanks) add(SWEEP_METHOD, rank); }
  return groups;
}

/** Whether a group is a Table 1 row (its methods at its ranks) or only a point of the LoRA sweep. */
export function groupRole(preset: UuidPreset, o: UuidBenchOptions, group: MethodSpec): "table1" | "sweep" {
  const ranks = o.ranks ?? preset.ranks;
  const table1 = (o.methods ?? TABLE_METHODS).includes(group.method) &&
    (group.rank === null || ranks.includes(group.rank));
  return table1 ? "table1" : "sweep";
}

/** Throws, naming the bad entry, unless every group resolves and fits the base model. */
export function validatePlan(preset: UuidPreset, groups: readonly MethodSpec[], config: LlamaConfig): void {
  for (const group of groups) {
    const spec = { ...group, preset: preset.name, seed: 0, lr: 1, ...uuidRunSize(preset), base: "" };
    checkFits(resolveUuidRun(preset, spec), config);
  }
}

function baseSpec(preset: UuidPreset, o: UuidBenchOptions): BaseSpec {
  if (o.base) return { kind: "dir", dir: o.base };
  if (!preset.base) {
    throw new RangeError(`The "${preset.name}" preset needs a Hugging Face LLaMA directory: pass --base DIR`);
  }
  return preset.base;
}

/** Path of the saved search of a preset. */
export function lrSearchPath(outDir: string, preset: string): string {
  return searchFilePath(outDir, "uuid", preset);
}

/** Saves the search records of a preset (atomically), so a later bench reuses them. */
export function saveLrSearch(outDir: string, preset: string, records: UuidRunRecord[]): Promise<void> {
  return saveSearchFile(lrSearchPath(outDir, preset), preset, records);
}

/**
 * The saved search records of a preset (none when the file is absent); a file that is not a search is refused
 * naming it, with `fix` as what to do.
 */
export function readLrSearch(outDir: string, preset: string, fix?: string): Promise<UuidRunRecord[]> {
  return readSearchFile<UuidRunRecord>(lrSearchPath(outDir, preset), fix);
}

/** The grid of a group as its search records show it. */
export function gridOf(records: readonly UuidRunRecord[]): GridPoint[] {
  return records.map((r) => ({ lr: r.spec.lr, status: r.status, criterion: finalTrainingLoss(r.losses) }));
}

/** Everything but the seed and rate: the key of a (method, rank) group. */
export function groupKey(spec: MethodSpec): string {
  return methodLabel(spec);
}

class UuidPlan {
  constructor(
    readonly ctx: BenchContext,
    readonly preset: UuidPreset,
    readonly base: BaseModel,
    readonly baseName: string,
    readonly journal: string,
  ) {}

  spec(group: MethodSpec, seed: number, lr: number): UuidRunSpec {
    return {
      ...methodSpecOf(group),
      preset: this.preset.name,
      seed,
      lr,
      ...uuidRunSize(this.preset),
      base: this.baseName,
    };
  }

  /** Whether a saved record is the very run this plan would make (same base and size, not just group). */
  current(r: UuidRunRecord): boolean {
    return runId(this.spec(r.spec, r.spec.seed, r.spec.lr)) === r.id;
  }

  run(spec: UuidRunSpec, role: UuidRunRole): MatrixRun<UuidRunRecord> {
    return {
      id: runId(spec),
      label: `${role === "lr-search" ? "lr search: " : ""}${
        methodLabel(spec)
      } seed ${spec.seed} lr ${spec.lr}`,
      execute: () =>
        runUuidExperiment(this.ctx.gpu, this.preset, spec, this.base, { role, log: this.ctx.progress }),
    };
  }

  matrix(runs: MatrixRun<UuidRunRecord>[]): Promise<UuidRunRecord[]> {
    return runMatrix(runs, {
      journal: this.journal,
      environment: this.ctx.environment,
      preset: this.preset.name,
      log: this.ctx.progress,
      shard: this.ctx.shard,
    });
  }

  /** The grid a group is searched over. */
  grid(group: MethodSpec): number[] {
    return this.preset.lrGrid[group.method] ?? this.preset.lrGrid.default!;
  }

  /** The saved search records of the plan's grid, base and size (other groups, rates and sizes are dropped). */
  onGrid(groups: readonly MethodSpec[], saved: readonly UuidRunRecord[]): UuidRunRecord[] {
    return saved.filter((r) =>
      this.current(r) &&
      groups.some((g) => groupKey(g) === groupKey(r.spec) && this.grid(g).includes(r.spec.lr))
    );
  }

  /** Whether the saved search covers every rate of a group's grid (at this plan's base and size). */
  searched(group: MethodSpec, saved: readonly UuidRunRecord[]): boolean {
    return this.grid(group).every((lr) =>
      saved.some((r) => this.current(r) && groupKey(r.spec) === groupKey(group) && r.spec.lr === lr)
    );
  }

  /** The search records of every group: the saved ones on the grid, plus a run of every rate they lack. */
  async search(groups: readonly MethodSpec[], saved: readonly UuidRunRecord[]): Promise<UuidRunRecord[]> {
    const kept = this.onGrid(groups, saved);
    const runs = groups.flatMap((g) =>
      this.grid(g)
        .filter((lr) => !kept.some((r) => groupKey(r.spec) === groupKey(g) && r.spec.lr === lr))
        .map((lr) => this.run(this.spec(g, this.preset.searchSeed, lr), "lr-search"))
    );
    return [...kept, ...await this.matrix(runs)];
  }

  /** The reported runs of each group at the rate its search chose (none when no rate of it trained). */
  table(
    groups: readonly MethodSpec[],
    seeds: readonly number[],
    search: readonly UuidRunRecord[],
    role: (group: MethodSpec) => UuidRunRole,
  ): MatrixRun<UuidRunRecord>[] {
    return groups.flatMap((g) => {
      const lr = chooseRate(gridOf(search.filter((r) => groupKey(r.spec) === groupKey(g))));
      if (lr === undefined) {
        this.ctx.progress(
          `${methodLabel(g)}: no rate of the grid trained; no reported runs (see the search)`,
        );
        return [];
      }
      return seeds.map((seed) => this.run(this.spec(g, seed, lr), role(g)));
    });
  }
}

/** The suite for the given options (the report renders any UUID records with the same section). */
export function makeUuidSuite(o: UuidBenchOptions): BenchSuite<UuidRunRecord> {
  const preset = typeof o.preset === "string" ? uuidPreset(o.preset) : o.preset;
  return {
    name: "uuid",
    description: `UUID memorization, preset ${preset.name} (paper Table 1, Figures 2–3)`,
    sharded: true,
    // The whole plan, checked before any suite of the bench runs (run() checks it again for direct callers).
    async validate() {
      const seeds = o.seeds ?? preset.seeds;
      if (!o.lrs && seeds.includes(preset.searchSeed)) {
        throw new RangeError(
          `Cannot report seed ${preset.searchSeed}: it is the learning-rate search's seed; pick other seeds`,
        );
      }
      validatePlan(preset, plannedGroups(preset, o), await baseConfig(baseSpec(preset, o)));
      if (!o.lrs && !o.lrSearch) await readLrSearch(o.outDir, preset.name);
    },
    async run(ctx) {
      const groups = plannedGroups(preset, o);
      const seeds = o.seeds ?? preset.seeds;
      if (!o.lrs && seeds.includes(preset.searchSeed)) {
        throw new RangeError(
          `Cannot report seed ${preset.searchSeed}: it is the learning-rate search's seed; pick other seeds`,
        );
      }
      const spec = baseSpec(preset, o);
      validatePlan(preset, groups, await baseConfig(spec));
      const base = await obtainBase(ctx.gpu, spec, join(o.outDir, "cache"), ctx.progress);
      const baseName = spec.kind === "dir" ? spec.dir : base.dir.split("/").at(-1)!;
      const plan = new UuidPlan(ctx, preset, base, baseName, join(o.outDir, `uuid-${preset.name}.jsonl`));
      if (o.lrs) {
        return await plan.matrix(
          groups.flatMap((g) =>
            seeds.flatMap((s) => o.lrs!.map((lr) => plan.run(plan.spec(g, s, lr), groupRole(preset, o, g))))
          ),
        );
      }
      const previous = await readLrSearch(o.outDir, preset.name);
      const saved = o.lrSearch ? [] : previous;
      const search = await plan.search(groups, saved);
      // A search split across shards is saved by the merge, once every shard's part is in.
      const split = (ctx.shard?.shard.count ?? 1) > 1;
      if (!split) await saveLrSearch(o.outDir, preset.name, updatedSearch(previous, search));
      const ready = groups.filter((g) => !split || plan.searched(g, saved));
      for (const g of groups.filter((g) => !ready.includes(g))) {
        const line = `${methodLabel(g)}: its ${seeds.length} reported run(s) wait for its learning-rate ` +
          `search, split across the shards; merge them (deno task report --merge), copy the merged ` +
          `lr-search-uuid-${preset.name}.json into each shard's --out and run the shards again`;
        ctx.progress(line);
        await ctx.shard?.defer(line);
      }
      const table = plan.table(ready, seeds, search, (g) => groupRole(preset, o, g));
      return [...search, ...await plan.matrix(table)];
    },
    section: (records, environment) => uuidSection(records, environment),
  };
}

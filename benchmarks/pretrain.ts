/**
 * The pretraining-from-scratch suite (paper §5.3: Table 3, Figures 4–5): FFT (a reference beyond the paper),
 * LoRA, MoRA (sharing, Eq. 6), ReLoRA and ReMoRA at equal trainable parameters on a random-initialized
 * LLaMA, for every seed. Each method trains at its own learning rate, chosen by the experiment layer's search
 * on training loss, on a seed no reported run uses (`lib/experiment/lr_search.ts`); the search's records are
 * kept in `<out>/lr-search-pretrain-<preset>.json`, so a committed search is reused and only the rates it
 * lacks are searched (`--lr-search` searches again). Every run goes through the run matrix: journaled at
 * once in `<out>/pretrain-<preset>.jsonl`, resumed after any interruption, recorded with its status.
 *
 * @module
 */

import { readSearchFile, saveSearchFile, searchFilePath } from "../lib/experiment/search_file.ts";
import { join } from "node:path";
import { getTokenizer } from "../lib/data/tokenizer.ts";
import { chooseRate, finalTrainingLoss, type GridPoint, updatedSearch } from "../lib/experiment/lr_search.ts";
import { type MatrixRun, readJournal, runMatrix } from "../lib/experiment/matrix.ts";
import { methodLabel, methodSpecOf } from "../lib/experiment/setup.ts";
import type { BenchContext, BenchSuite } from "../lib/harness/suite.ts";
import { loadPretrainData, type PretrainData } from "../lib/pretraining/data.ts";
import { pretrainRunSize, runId, runPretrainExperiment } from "../lib/pretraining/experiment.ts";
import { groupKey, plannedGroups, type PretrainGroup, validatePlan } from "../lib/pretraining/plan.ts";
import { type PretrainPreset, pretrainPreset } from "../lib/pretraining/presets.ts";
import type { PretrainRunRecord, PretrainRunRole, PretrainRunSpec } from "../lib/records.ts";
import { pretrainSection } from "../lib/report/pretrain_section.ts";

/** What the bench command line selects. */
export interface PretrainBenchOptions {
  /** Preset name (`quick`, `smoke`, `paper`), or a preset object (tests use tiny ones). */
  preset: string | PretrainPreset;
  /** Methods of Table 3 (default: the preset's, fft, lora, mora, relora, remora). */
  methods?: string[];
  /** Seeds of the reported runs (default: the preset's). */
  seeds?: number[];
  /** Search the learning rates again, ignoring the saved search. */
  lrSearch?: boolean;
  /** Where runs are journaled and the search is saved. */
  outDir: string;
  /** Warnings about the plan; `console.warn` by default. */
  warn?: (line: string) => void;
}

/** Path of the saved search of a preset. */
export function searchPath(outDir: string, preset: string): string {
  return searchFilePath(outDir, "pretrain", preset);
}

/** Path of the run journal of a preset. */
export function journalPath(outDir: string, preset: string): string {
  return join(outDir, `pretrain-${preset}.jsonl`);
}

/** Saves the search records of a preset (atomically), so a later bench reuses them. */
export function saveSearch(outDir: string, preset: string, records: PretrainRunRecord[]): Promise<void> {
  return saveSearchFile(searchPath(outDir, preset), preset, records);
}

/**
 * The saved search records of a preset (none when the file is absent); a file that is not a search is refused
 * naming it, with `fix` as what to do.
 */
export function readSearch(outDir: string, preset: string, fix?: string): Promise<PretrainRunRecord[]> {
  return readSearchFile<PretrainRunRecord>(searchPath(outDir, preset), fix);
}

/** The grid of a group as its search records show it. */
export function gridOf(records: readonly PretrainRunRecord[]): GridPoint[] {
  return records.map((r) => ({ lr: r.spec.lr, status: r.status, criterion: finalTrainingLoss(r.losses) }));
}

/** The key of a record's group. */
function recordGroup(r: PretrainRunRecord): string {
  return groupKey(r.spec);
}

class PretrainPlan {
  constructor(
    readonly ctx: BenchContext,
    readonly preset: PretrainPreset,
    readonly data: PretrainData,
    readonly journal: string,
  ) {}

  grid(group: PretrainGroup): number[] {
    return this.preset.lrGrid[group.method] ?? this.preset.lrGrid.default!;
  }

  spec(group: PretrainGroup, seed: number, lr: number): PretrainRunSpec {
    return {
      ...methodSpecOf(group),
      model: group.model,
      preset: this.preset.name,
      seed,
      lr,
      ...pretrainRunSize(this.preset),
    };
  }

  /** Whether a saved record is the very run this plan would make (same size, not just group). */
  current(r: PretrainRunRecord): boolean {
    return runId(this.spec(r.spec, r.spec.seed, r.spec.lr)) === r.id;
  }

  run(group: PretrainGroup, seed: number, lr: number, role: PretrainRunRole): MatrixRun<PretrainRunRecord> {
    const spec = this.spec(group, seed, lr);
    return {
      id: runId(spec),
      label: `${role === "lr-search" ? "lr search: " : ""}${groupKey(group)} seed ${seed} lr ${lr}`,
      execute: () =>
        runPretrainExperiment(this.ctx.gpu, this.preset, spec, this.data, { role, log: this.ctx.progress }),
    };
  }

  matrix(runs: MatrixRun<PretrainRunRecord>[]): Promise<PretrainRunRecord[]> {
    return runMatrix(runs, {
      journal: this.journal,
      environment: this.ctx.environment,
      preset: this.preset.name,
      log: this.ctx.progress,
    });
  }

  /** The saved search records on the plan's grid, plus a run of every rate they lack. */
  async search(
    groups: readonly PretrainGroup[],
    saved: readonly PretrainRunRecord[],
  ): Promise<PretrainRunRecord[]> {
    const has = (g: PretrainGroup, lr: number) => (r: PretrainRunRecord) =>
      this.current(r) && recordGroup(r) === groupKey(g) && r.spec.lr === lr;
    const kept = saved.filter((r) => groups.some((g) => this.grid(g).some((lr) => has(g, lr)(r))));
    const runs = groups.flatMap((g) =>
      this.grid(g).filter((lr) => !kept.some(has(g, lr))).map((lr) =>
        this.run(g, this.preset.searchSeed, lr, "lr-search")
      )
    );
    return [...kept, ...await this.matrix(runs)];
  }

  /** The Table 3 runs of each group at the rate its search chose (none when no rate of it trained). */
  table(groups: readonly PretrainGroup[], seeds: readonly number[], search: readonly PretrainRunRecord[]) {
    return groups.flatMap((g) => {
      const lr = chooseRate(gridOf(search.filter((r) => recordGroup(r) === groupKey(g))));
      if (lr === undefined) {
        this.ctx.progress(`${groupKey(g)}: no rate of the grid trained; no reported runs (see the search)`);
        return [];
      }
      return seeds.map((seed) => this.run(g, seed, lr, "table3"));
    });
  }
}

/** The suite for the given options (the report renders any pretraining records with the same section). */
export function makePretrainSuite(o: PretrainBenchOptions): BenchSuite<PretrainRunRecord> {
  // Resolved when the suite validates or runs, so that building the bench's suite list never fails.
  const presetOf = () => typeof o.preset === "string" ? pretrainPreset(o.preset) : o.preset;
  const check = (preset: PretrainPreset) => {
    const groups = plannedGroups(preset, o.methods);
    const warn = o.warn ?? console.warn;
    for (const warning of validatePlan(preset, groups, o.seeds ?? preset.seeds)) warn(`Warning: ${warning}`);
    return groups;
  };
  return {
    name: "pretrain",
    description: `Pretraining from scratch, preset ${
      typeof o.preset === "string" ? o.preset : o.preset.name
    } (paper Table 3, Figures 4–5)`,
    async validate() {
      const preset = presetOf();
      check(preset);
      if (!o.lrSearch) await readSearch(o.outDir, preset.name);
    },
    async run(ctx) {
      const preset = presetOf();
      // validate() has printed the plan's warnings before any suite ran.
      const groups = plannedGroups(preset, o.methods);
      const data = await loadPretrainData(getTokenizer(preset.tokenizer));
      ctx.progress(
        `corpus: ${data.trainDocuments} training / ${data.validationDocuments} held-out documents, ` +
          `${data.train.length} / ${data.validation.length} tokens`,
      );
      const plan = new PretrainPlan(ctx, preset, data, journalPath(o.outDir, preset.name));
      const previous = await readSearch(o.outDir, preset.name);
      const search = await plan.search(groups, o.lrSearch ? [] : previous);
      await saveSearch(o.outDir, preset.name, updatedSearch(previous, search));
      for (const g of groups) {
        const lr = chooseRate(gridOf(search.filter((r) => recordGroup(r) === groupKey(g))));
        ctx.progress(`${methodLabel(g)}: learning rate ${lr ?? "none"} (searched on training loss)`);
      }
      return [...search, ...await plan.matrix(plan.table(groups, o.seeds ?? preset.seeds, search))];
    },
    section: (records) => pretrainSection(records),
  };
}

/**
 * The pretraining records a lost `results.json` can be rebuilt from: the saved search and the journal of
 * each preset whose journal is in `outDir`, the latest bench's records (`latest`) last.
 */
export async function rebuildPretrainRecords(outDir: string, latest: readonly unknown[]): Promise<unknown[]> {
  const byId = new Map<string, unknown>();
  for await (const entry of Deno.readDir(outDir)) {
    const preset = /^pretrain-(.+)\.jsonl$/.exec(entry.name)?.[1];
    if (!entry.isFile || preset === undefined) continue;
    const fix = "move it away to rebuild without it";
    for (const r of await readSearch(outDir, preset, fix)) byId.set(r.id, r);
    for (const r of (await readJournal<PretrainRunRecord>(journalPath(outDir, preset))).values()) {
      byId.set(r.id, r);
    }
  }
  for (const r of latest) byId.set((r as { id: string }).id, r);
  return [...byId.values()];
}

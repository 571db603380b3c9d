/**
 * `deno task report`: re-renders `<out>/index.html` and `<out>/specs/` from `<out>/results.json` without
 * running anything. With `--merge DIR...`, it first merges bench outputs (the `--out` directories of shards,
 * `lib/harness/merge.ts`) into `<out>/results.json`, with the merged learning-rate search when no run is
 * missing, prints what it merged and what is missing, and exits 1 when something is. With `--rebuild`, it
 * first rebuilds a lost or corrupt `<out>/results.json` from the journals (`lib/harness/rebuild.ts`).
 *
 * @module
 */

import { join, resolve } from "node:path";
import { parseCliArgs, runCli } from "../lib/cli/run_cli.ts";
import { readJournal } from "../lib/experiment/matrix.ts";
import { mergeBenchOutputs, readBenchOutput } from "../lib/harness/merge.ts";
import { lockOutputFolder } from "../lib/harness/lock.ts";
import { keepBackup, latestSuiteRecords, mergeById, rebuiltResults } from "../lib/harness/rebuild.ts";
import { writeResultsFile } from "../lib/harness/runner.ts";
import { parseResultsFile, type ResultsFile } from "../lib/harness/suite.ts";
import { writeReport } from "../lib/report/write.ts";
import type { UuidRunRecord } from "../lib/records.ts";
import { benchReport, benchSuites } from "./run.ts";
import { readLrSearch, saveLrSearch } from "./uuid.ts";
import { rebuildPretrainRecords } from "./pretrain.ts";
import { rebuildFinetuneRecords } from "./finetune.ts";

const USAGE = `Usage: deno task report [--out DIR]
       deno task report --merge DIR... [--out DIR] [--allow-mixed-presets]
       deno task report --rebuild [--out DIR] [--preset NAME]

  --out DIR              reads DIR/results.json and writes DIR/index.html and DIR/specs/ (default: reports)
  --merge DIR...         first merges the results of these bench outputs (say, one per shard) into
                         DIR/results.json (and DIR/lr-search-uuid-<preset>.json when no run is missing)
  --allow-mixed-presets  merge a suite whose records come from different presets
  --rebuild              first rebuilds DIR/results.json (a lost or corrupt one is kept as results.json.bak)
                         from DIR/results.jsonl, DIR/uuid-<preset>.jsonl and DIR/lr-search-uuid-<preset>.json
                         (and every DIR/pretrain-<preset>.jsonl with DIR/lr-search-pretrain-<preset>.json)
                         (and every DIR/finetune-<preset>.jsonl with DIR/lr-search-finetune-<preset>.json)
  --preset NAME          with --rebuild, the UUID preset whose journal to read (default: the preset of the
                         latest UUID records of results.jsonl, or the only uuid-<preset>.jsonl there is)
  --help                 show this text

Examples:
  deno task report                                  # re-render reports/index.html from reports/results.json
  deno task report --merge shard-0 shard-1 --out reports
  deno task report --rebuild --out reports --preset quick`;

async function readResults(path: string, outDir: string): Promise<ResultsFile> {
  try {
    return parseResultsFile(
      await Deno.readTextFile(path),
      path,
      `rebuild it from the journals with \`deno task report --rebuild --out ${outDir}\``,
    );
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    throw new RangeError(`Cannot find "${path}": run \`deno task bench\` first, or pass --out DIR`);
  }
}

/** Saves each preset's merged search, as one unsharded bench would have. */
async function saveMergedSearch(outDir: string, records: readonly unknown[]): Promise<void> {
  const search = (records as UuidRunRecord[]).filter((r) => r.role === "lr-search");
  for (const preset of new Set(search.map((r) => r.spec.preset))) {
    await saveLrSearch(outDir, preset, search.filter((r) => r.spec.preset === preset));
    console.log(`Wrote the merged learning-rate search of preset "${preset}" to ${outDir}`);
  }
}

/** Merges `dirs` into `outDir`; returns the merged results and whether work is missing. */
async function merge(dirs: string[], outDir: string, allowMixedPresets: boolean) {
  if (dirs.some((dir) => resolve(dir) === resolve(outDir))) {
    throw new RangeError(`Cannot merge into "${outDir}": it is one of the inputs; pass another --out`);
  }
  const merged = mergeBenchOutputs(await Promise.all(dirs.map(readBenchOutput)), { allowMixedPresets });
  for (const line of merged.merged) console.log(line);
  await Deno.mkdir(outDir, { recursive: true });
  await writeResultsFile(join(outDir, "results.json"), merged.results);
  if (merged.missing.length === 0) await saveMergedSearch(outDir, merged.results.suites.uuid ?? []);
  for (const line of merged.deferred) console.log(`deferred: ${line}`);
  for (const line of merged.missing) console.error(`missing: ${line}`);
  if (merged.missing.length > 0) {
    console.error(
      `${merged.missing.length} planned item(s) have no record: re-run the shards named above, then merge ` +
        `again (the learning-rate search is not saved until nothing is missing)`,
    );
  }
  return { results: merged.results, complete: merged.missing.length === 0 };
}

const UUID_JOURNAL = /^uuid-(.+)\.jsonl$/;

/** The UUID preset to rebuild: the one asked for, that of the latest UUID records, or the only journal's. */
async function rebuildPreset(
  outDir: string,
  latest: readonly unknown[],
  asked?: string,
): Promise<string | undefined> {
  if (asked !== undefined) return asked;
  const recorded = (latest as UuidRunRecord[]).find((r) => r.spec?.preset)?.spec.preset;
  if (recorded !== undefined) return recorded;
  const presets: string[] = [];
  for await (const entry of Deno.readDir(outDir)) {
    const preset = UUID_JOURNAL.exec(entry.name)?.[1];
    if (entry.isFile && preset !== undefined) presets.push(preset);
  }
  if (presets.length > 1) {
    throw new RangeError(
      `Cannot rebuild the uuid records of "${outDir}": it has the journals of presets ` +
        `${presets.sort().map((p) => `"${p}"`).join(", ")}; pick one with --preset NAME`,
    );
  }
  return presets[0];
}

/** Rebuilds `<outDir>/results.json` from the journals; a previous file is kept as `results.json.bak`. */
async function rebuild(outDir: string, asked?: string): Promise<ResultsFile> {
  const journal = join(outDir, "results.jsonl");
  const suites = await latestSuiteRecords(journal);
  const preset = await rebuildPreset(outDir, suites.uuid ?? [], asked);
  if (preset !== undefined) {
    const runs = [...(await readJournal(join(outDir, `uuid-${preset}.jsonl`))).values()];
    const uuid = mergeById(
      await readLrSearch(outDir, preset, "move it away to rebuild without it"),
      runs,
      suites.uuid ?? [],
    );
    if (uuid.length > 0) suites.uuid = uuid;
  }
  const pretrain = await rebuildPretrainRecords(outDir, suites.pretrain ?? []);
  if (pretrain.length > 0) suites.pretrain = pretrain;
  const tuned = await rebuildFinetuneRecords(outDir, {
    finetune: suites.finetune ?? [],
    ablation: suites.ablation ?? [],
  });
  if (tuned.finetune.length > 0) suites.finetune = tuned.finetune;
  if (tuned.ablation.length > 0) suites.ablation = tuned.ablation;
  const results = rebuiltResults(suites, journal);
  const path = join(outDir, "results.json");
  await keepBackup(path);
  await writeResultsFile(path, results);
  for (const [name, records] of Object.entries(suites)) {
    console.log(`Rebuilt ${records.length} "${name}" records into ${path}`);
  }
  return results;
}

async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseCliArgs({
    args,
    allowPositionals: true,
    options: {
      out: { type: "string", default: "reports" },
      merge: { type: "boolean", default: false },
      "allow-mixed-presets": { type: "boolean", default: false },
      rebuild: { type: "boolean", default: false },
      preset: { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (values.merge !== positionals.length > 0) {
    throw new RangeError(
      `Cannot run the report: directories go with --merge (and --merge needs some)\n${USAGE}`,
    );
  }
  if (values.merge && values.rebuild) {
    throw new RangeError(`Cannot run the report: pass --merge or --rebuild, not both\n${USAGE}`);
  }
  if (values.preset !== undefined && !values.rebuild) {
    throw new RangeError(`Cannot run the report: --preset goes with --rebuild\n${USAGE}`);
  }
  const path = join(values.out, "results.json");
  // --merge and --rebuild write results.json: they take the bench's lock on --out.
  const mode = values.merge ? "merge" : values.rebuild ? "rebuild" : undefined;
  const lock = mode &&
    await lockOutputFolder(values.out, { task: `deno task report --${mode}`, action: `${mode} into` });
  try {
    const { results, complete } = values.merge
      ? await merge(positionals, values.out, values["allow-mixed-presets"])
      : values.rebuild
      ? { results: await rebuild(values.out, values.preset), complete: true }
      : { results: await readResults(path, values.out), complete: true };
    const suites = benchSuites({ preset: "quick", outDir: values.out });
    const written = await writeReport(values.out, benchReport(results, suites));
    console.log(
      `Wrote ${written.html}, ${written.specs.length} specs and ${written.tables.length} CSV tables from ${path}`,
    );
    return complete ? 0 : 1;
  } finally {
    await lock?.release();
  }
}

if (import.meta.main) await runCli(main);

/**
 * `deno task bench`: acquires the GPU, records the environment, runs every suite with progress lines
 * and tables on stdout, and writes `<out>/results.json`, `<out>/results.jsonl` (appended journal),
 * `<out>/index.html` and `<out>/specs/*.vl.json`.
 *
 * With `--shard i/N` it runs one shard of the bench (`lib/harness/shard.ts`) and writes the shard's plan to
 * `<out>/shard.json`; `deno task report --merge` merges the shards' outputs. With `--require-gpu` it stops
 * when the adapter is a software one.
 *
 * Before anything runs, it takes the lock on `<out>` (`lib/harness/lock.ts`: a second bench there refuses),
 * reads the previous `results.json` that `--suite` keeps the other suites' records from (refusing a corrupt
 * one, with `deno task report --rebuild` to rebuild it), and validates every selected suite's plan.
 *
 * A new benchmark is one more entry in {@link benchSuites}.
 *
 * @module
 */

import { join } from "node:path";
import { requestGpu } from "../lib/gpu/device.ts";
import { adapterName, describeAdapter, recordEnvironment } from "../lib/harness/env.ts";
import { lockOutputFolder } from "../lib/harness/lock.ts";
import { runSuites, writeResultsFile } from "../lib/harness/runner.ts";
import { parseShard, ShardManifestWriter } from "../lib/harness/shard.ts";
import { type BenchSuite, parseResultsFile, type ResultsFile, sectionsOf } from "../lib/harness/suite.ts";
import { DEFAULT_TIMING } from "../lib/harness/timing.ts";
import type { Report } from "../lib/report/model.ts";
import { provenanceTable } from "../lib/report/provenance.ts";
import { writeReport } from "../lib/report/write.ts";
import { numberList, parseCliArgs, runCli } from "../lib/cli/run_cli.ts";
import { kernelSuite } from "./kernels.ts";
import { makeTrainingSuite } from "./training.ts";
import { makeUuidSuite, type UuidBenchOptions } from "./uuid.ts";
import { makePretrainSuite } from "./pretrain.ts";
import { makeFinetuneSuite } from "./finetune.ts";

/** The fine-tuning suites' own flags (`--tasks`, `--data`, `--save-adapters`). */
export interface FinetuneFlags {
  tasks?: string[];
  data?: string;
  saveAdapters?: string;
}

/** Every suite the bench runs, in order; `benchmarks/report.ts` renders results with the same list. */
export function benchSuites(uuid: UuidBenchOptions, finetune: FinetuneFlags = {}): readonly BenchSuite[] {
  // --preset, --methods (default: the preset's Table 2 methods), --ranks, --seeds, --lr-search and --base
  // apply to the fine-tuning suites too.
  const finetuneOptions = {
    preset: typeof uuid.preset === "string" ? uuid.preset : "quick",
    methods: uuid.methods,
    ranks: uuid.ranks,
    seeds: uuid.seeds,
    lrSearch: uuid.lrSearch,
    base: uuid.base,
    outDir: uuid.outDir,
    ...finetune,
  };
  return [
    kernelSuite,
    makeTrainingSuite({ preset: typeof uuid.preset === "string" ? uuid.preset : undefined, base: uuid.base }),
    makeUuidSuite(uuid),
    // --preset, --methods, --seeds and --lr-search apply to the pretraining suite too.
    makePretrainSuite({
      preset: typeof uuid.preset === "string" ? uuid.preset : "quick",
      methods: uuid.methods,
      seeds: uuid.seeds,
      lrSearch: uuid.lrSearch,
      outDir: uuid.outDir,
    }),
    makeFinetuneSuite("table2", finetuneOptions),
    makeFinetuneSuite("table4", finetuneOptions),
  ] as BenchSuite[];
}

/** Title of the HTML report. */
export const REPORT_TITLE = "MoRA on WebGPU: benchmark report";

/** The report of a results file: the environment of the run that wrote it, each record's provenance, sections. */
export function benchReport(results: ResultsFile, suites: readonly BenchSuite[]): Report {
  return {
    title: REPORT_TITLE,
    environment: results.environment,
    provenance: provenanceTable(results.suites),
    sections: sectionsOf(results, suites),
  };
}

const USAGE = `Usage: deno task bench [--out DIR] [--suite NAME]... [--quick] [UUID options]

  --out DIR        where results and the report go (default: reports)
  --suite NAME     run only this suite (repeatable): kernels, training, uuid, pretrain, finetune, ablation
  --quick          smaller kernel/training sizes, shorter timing and every experiment's smoke preset, for a smoke run
  --shard I/N      run shard I of N: each run of a run matrix (by its id) and each other suite (whole) belongs
                   to one shard; writes DIR/shard.json; merge the shards with deno task report --merge
  --require-gpu    stop unless the adapter is a hardware one (not a software adapter such as lavapipe)
  --help           show this text

UUID memorization (suite uuid; finished runs are journaled in DIR/uuid-<preset>.jsonl and never re-run):
  --preset NAME    quick (default; 2 CPU cores), smoke (default with --quick; two minutes, not a result)
                   or paper (a GPU and --base)
  --methods LIST   Table 1 methods, comma-separated (default fft,lora,mora; lora adds the rank sweep)
  --ranks LIST     ranks of Table 1 (default: the preset's small and large rank)
  --seeds LIST     seeds of the reported runs (default: the preset's, 0,1,2 for quick); tables show mean ± sd
  --lr-search      search every method's learning rate again (default: reuse DIR/lr-search-uuid-<preset>.json
                   and search only the rates it lacks)
  --lrs LIST       fixed learning rates for every method instead of the searched ones (a grid study)
  --base DIR       a Hugging Face LLaMA directory as the frozen base model

Pretraining from scratch (suite pretrain; runs journaled in DIR/pretrain-<preset>.jsonl, never re-run):
  --preset, --seeds and --lr-search as above (the search is DIR/lr-search-pretrain-<preset>.json); presets
  quick (default; 2 CPU cores, about 15 minutes), smoke (default with --quick; seconds, not a result) and paper
  (the paper's 250M and 1.3B shapes, a GPU); --methods picks among fft,lora,mora,relora,remora (default all)

Fine-tuning (suites finetune, Table 2, and ablation, Table 4; both journal to DIR/finetune-<preset>.jsonl and
share the search DIR/lr-search-finetune-<preset>.json): --preset quick (default; CPU analogs), smoke (default
with --quick; seconds, not a result) or paper (Table 6 settings; needs --base and --data); --methods (default
fft,lora,lora+,relora,asylora,dora,mora), --ranks, --seeds, --lr-search and --base as above, and
  --tasks LIST     Table 2 tasks, comma-separated: instruction, math, biomed, finance (default all)
  --data DIR       the real datasets instead of the analogs (layout: lib/finetune/readers.ts, README)
  --save-adapters DIR  save each reported adapter run's adapters there in PEFT format (one folder per run)`;

function parseFlags() {
  const { values } = parseCliArgs({
    args: Deno.args,
    options: {
      out: { type: "string", default: "reports" },
      suite: { type: "string", multiple: true },
      quick: { type: "boolean", default: false },
      shard: { type: "string" },
      "require-gpu": { type: "boolean", default: false },
      help: { type: "boolean", default: false },
      preset: { type: "string" },
      methods: { type: "string" },
      ranks: { type: "string" },
      seeds: { type: "string" },
      lrs: { type: "string" },
      "lr-search": { type: "boolean", default: false },
      base: { type: "string" },
      tasks: { type: "string" },
      data: { type: "string" },
      "save-adapters": { type: "string" },
    },
  });
  return values;
}

function selectSuites(all: readonly BenchSuite[], names: string[] | undefined): readonly BenchSuite[] {
  if (!names) return all;
  return names.map((name) => {
    const suite = all.find((s) => s.name === name);
    if (!suite) {
      throw new RangeError(
        `Cannot run suite "${name}": not found; pick one of ${all.map((s) => s.name).join(", ")}`,
      );
    }
    return suite;
  });
}

/** The UUID options of the command line. */
export function uuidOptions(flags: ReturnType<typeof parseFlags>): UuidBenchOptions {
  return {
    preset: flags.preset ?? (flags.quick ? "smoke" : "quick"),
    methods: flags.methods?.split(","),
    ranks: numberList("ranks", flags.ranks, { integer: true, min: 1 }),
    seeds: numberList("seeds", flags.seeds, { integer: true, min: 0 }),
    lrs: numberList("lrs", flags.lrs, { above: 0 }),
    lrSearch: flags["lr-search"],
    base: flags.base,
    outDir: flags.out,
  };
}

/**
 * The previous `results.json`, read before any suite runs so that `--suite` never drops the other suites'
 * records; undefined when there is none.
 *
 * @throws {SyntaxError} naming the file, and saying how to rebuild it, when it is corrupt.
 */
export async function readPreviousResults(path: string, outDir: string): Promise<ResultsFile | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  return parseResultsFile(
    text,
    path,
    `--suite keeps the other suites' records from it: rebuild it from the journals with ` +
      `\`deno task report --rebuild --out ${outDir}\`, or delete it to drop those records`,
  );
}

/**
 * With `--suite`, the suites that did not run keep their records from the previous `results.json`, so the report
 * still shows them; each record keeps the provenance of the run that measured it.
 */
function keepOtherSuites(path: string, previous: ResultsFile, results: ResultsFile): void {
  for (const [name, records] of Object.entries(previous.suites)) {
    if (results.suites[name] === undefined) {
      results.suites[name] = records;
      console.log(
        `Keeping the "${name}" records of the previous ${path} (measured at ${previous.environment.gitCommit})`,
      );
    }
  }
}

async function bench(flags: ReturnType<typeof parseFlags>, all: readonly BenchSuite[]): Promise<void> {
  const suites = selectSuites(all, flags.suite);
  const shard = flags.shard === undefined ? undefined : parseShard(flags.shard);
  const resultsPath = join(flags.out, "results.json");
  // A shard's results hold its own work only: another shard's suites come in at the merge.
  const previous = flags.suite && !shard ? await readPreviousResults(resultsPath, flags.out) : undefined;
  const gpu = await requestGpu(); // without one, runCli prints how to get one (the lock is released first)
  const environment = await recordEnvironment(gpu.adapter);
  console.log(`Adapter: ${describeAdapter(gpu.adapter)}`);
  if (flags["require-gpu"] && gpu.adapter.isFallbackAdapter) {
    throw new RangeError(
      `Cannot bench on the software adapter ${adapterName(gpu.adapter)}: --require-gpu asked for a GPU; ` +
        `check the machine's Vulkan driver (vulkaninfo --summary), or drop --require-gpu to accept it`,
    );
  }
  console.log(`Deno ${environment.deno.deno}, commit ${environment.gitCommit}, ${environment.cpuCount} CPUs`);
  const timing = flags.quick ? { targetMs: 50, trials: 2 } : DEFAULT_TIMING;
  const results = await runSuites(gpu, suites, {
    environment,
    timing,
    quick: flags.quick,
    journal: join(flags.out, "results.jsonl"),
    ...shard ? { shard: new ShardManifestWriter(flags.out, shard) } : {},
  });
  if (previous) keepOtherSuites(resultsPath, previous, results);
  await writeResultsFile(resultsPath, results);
  const report = await writeReport(flags.out, benchReport(results, all));
  console.log(`Wrote ${resultsPath}, ${report.html} and ${report.specs.length} specs`);
  gpu.device.destroy();
}

async function main(): Promise<void> {
  const flags = parseFlags();
  if (flags.help) return console.log(USAGE);
  const all = benchSuites(uuidOptions(flags), {
    tasks: flags.tasks?.split(","),
    data: flags.data,
    saveAdapters: flags["save-adapters"],
  });
  const lock = await lockOutputFolder(flags.out);
  try {
    await bench(flags, all);
  } finally {
    await lock.release();
  }
}

if (import.meta.main) {
  await runCli(async () => {
    await main();
    return 0;
  });
}

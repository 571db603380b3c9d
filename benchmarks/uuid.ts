/**
 * The UUID memorization suite (paper Table 1, Figures 2–3): FFT, LoRA and MoRA at the preset's small and large
 * rank, plus the LoRA rank sweep, for every seed and learning rate asked for. Every finished run is appended to
 * a JSON-lines journal at once (fsynced); an interrupted bench — even `kill -9` — resumes with the runs that are
 * missing and loses no finished one.
 *
 * @module
 */

import { join } from "node:path";
import { ADAPTER_METHODS } from "../lib/adapters/registry.ts";
import { moraRank } from "../lib/adapters/mora_variants.ts";
import { appendResult, readResults } from "../lib/harness/results.ts";
import type { BenchSuite } from "../lib/harness/suite.ts";
import { llamaParameterShapes } from "../lib/model/checkpoint.ts";
import type { LlamaConfig } from "../lib/model/config.ts";
import { uuidSection } from "../lib/report/uuid_section.ts";
import { type BaseSpec, obtainBase } from "../lib/uuid/base.ts";
import { runId, runUuidExperiment, type UuidRunRecord, type UuidRunSpec } from "../lib/uuid/experiment.ts";
import { type UuidPreset, uuidPreset } from "../lib/uuid/presets.ts";

/** What the bench command line selects. */
export interface UuidBenchOptions {
  /** Preset name (`quick` or `paper`), or a preset object (tests use tiny ones). */
  preset: string | UuidPreset;
  /** Methods of Table 1 (default fft, lora, mora); the LoRA sweep runs when lora is among them. */
  methods?: string[];
  /** Ranks of Table 1 (default: the preset's small and large rank). */
  ranks?: number[];
  /** Seeds (default [0]). */
  seeds?: number[];
  /** Learning rates for every method (default: the preset's per family). */
  lrs?: number[];
  /** A Hugging Face LLaMA directory to use as the base (required by the paper preset). */
  base?: string;
  /** Where runs are journaled and the base model is cached. */
  outDir: string;
}

const TABLE_METHODS = ["fft", "lora", "mora"];

/** Every run the options ask for, in order: Table 1 first, then the rest of the LoRA sweep. */
export function plannedRuns(preset: UuidPreset, o: UuidBenchOptions, baseName: string): UuidRunSpec[] {
  const methods = o.methods ?? TABLE_METHODS;
  for (const m of methods) {
    if (m !== "fft" && !ADAPTER_METHODS[m]) {
      throw new RangeError(
        `Unknown method "${m}": expected fft or one of ${Object.keys(ADAPTER_METHODS).join(", ")}`,
      );
    }
  }
  const ranks = o.ranks ?? preset.ranks;
  for (const r of ranks) {
    if (!Number.isInteger(r) || r < 1) {
      throw new RangeError(`Cannot use rank "${r}": ranks are positive integers`);
    }
  }
  const specs: UuidRunSpec[] = [];
  const add = (method: string, rank: number | null, seed: number, lr: number) => {
    const variant = method === "mora" || method === "remora"
      ? preset.moraVariants[rank! <= Math.min(...ranks) ? 0 : 1]
      : undefined;
    const spec = { preset: preset.name, method, rank, variant, seed, lr, base: baseName };
    if (!specs.some((s) => runId(s) === runId(spec))) specs.push(spec);
  };
  for (const seed of o.seeds ?? [0]) {
    for (const method of methods) {
      const lrs = o.lrs ?? [method === "fft" ? preset.lr.fft : preset.lr.adapter];
      for (const lr of lrs) {
        if (method === "fft") add(method, null, seed, lr);
        else for (const rank of ranks) add(method, rank, seed, lr);
      }
    }
    if (methods.includes("lora")) {
      for (const lr of o.lrs ?? [preset.lr.adapter]) {
        for (const rank of preset.sweepRanks) add("lora", rank, seed, lr);
      }
    }
  }
  return specs;
}

/** Throws when a rank does not fit the model: r > min(in, out) for LoRA, or MoRA's r̂ above min(in, out). */
export function checkRanksFit(specs: readonly UuidRunSpec[], config: LlamaConfig): void {
  const shapes = llamaParameterShapes(config).filter((p) => p.name.endsWith("_proj.weight"));
  for (const spec of specs) {
    if (spec.rank === null) continue;
    for (const { name, shape } of shapes) {
      const [outF, inF] = shape as [number, number];
      const side = spec.method.includes("mora")
        ? moraRank(inF, outF, spec.rank, spec.variant as never)
        : spec.rank;
      if (side > Math.min(inF, outF)) {
        throw new RangeError(
          `Cannot run ${spec.method} at r=${spec.rank}: its ${spec.method.includes("mora") ? "r̂" : "rank"} ` +
            `${side} exceeds ${
              Math.min(inF, outF)
            }, the smaller side of ${name} (${outF}×${inF}); pick a smaller rank`,
        );
      }
    }
  }
}

function baseSpec(preset: UuidPreset, o: UuidBenchOptions): BaseSpec {
  if (o.base) return { kind: "dir", dir: o.base };
  if (!preset.base) {
    throw new RangeError(`The "${preset.name}" preset needs a Hugging Face LLaMA directory: pass --base DIR`);
  }
  return preset.base;
}

/** The suite for the given options (the report renders any UUID records with the same section). */
export function makeUuidSuite(o: UuidBenchOptions): BenchSuite<UuidRunRecord> {
  const preset = typeof o.preset === "string" ? uuidPreset(o.preset) : o.preset;
  return {
    name: "uuid",
    description: `UUID memorization, preset ${preset.name} (paper Table 1, Figures 2–3)`,
    async run(ctx) {
      const spec = baseSpec(preset, o);
      const base = await obtainBase(ctx.gpu, spec, join(o.outDir, "cache"), ctx.progress);
      const specs = plannedRuns(preset, o, spec.kind === "dir" ? spec.dir : base.dir.split("/").at(-1)!);
      checkRanksFit(specs, base.config);
      const journal = join(o.outDir, `uuid-${preset.name}.jsonl`);
      const done = new Map((await readResults<UuidRunRecord>(journal)).map((r) => [r.id, r]));
      const records: UuidRunRecord[] = [];
      for (const [i, s] of specs.entries()) {
        const label = `[${i + 1}/${specs.length}] ${s.method} r=${
          s.rank ?? "full"
        } seed ${s.seed} lr ${s.lr}`;
        const previous = done.get(runId(s));
        if (previous) {
          ctx.progress(`${label}: recorded earlier, skipped`);
          records.push(previous);
          continue;
        }
        ctx.progress(label);
        const record = await runUuidExperiment(ctx.gpu, preset, s, base, ctx.progress);
        await appendResult(journal, record);
        records.push(record);
      }
      return records;
    },
    section: (records, environment) =>
      uuidSection(
        records,
        environment,
        o.ranks ?? (records[0] ? uuidPreset(records[0].spec.preset) : preset).ranks,
      ),
  };
}

/**
 * One run-matrix runner for every suite: each run has a stable id, every finished run is appended to an
 * fsynced JSON-lines journal at once (with the provenance of the run that measured it), and a later bench
 * resumes from the journal, re-running only what is missing, even after `kill -9`. A journal line that is
 * not JSON, or not a record of this matrix, is skipped with a warning naming it. A run that diverges or does
 * not learn is recorded with that status, and the matrix goes on. Given a shard, it lists the whole plan in
 * the shard's manifest, then runs only the runs whose ids belong to that shard (`lib/harness/shard.ts`).
 *
 * @module
 */

import { appendResult, readResults } from "../harness/results.ts";
import type { Environment } from "../harness/env.ts";
import { adapterName } from "../harness/env.ts";
import { inShard, type ShardContext } from "../harness/shard.ts";
import type { MatrixRecord, Provenance, RunStatus } from "../records.ts";

/** The provenance of a run finishing now in `environment`. */
export function provenanceOf(environment: Environment, preset: string): Provenance {
  return {
    adapter: adapterName(environment.adapter),
    softwareAdapter: environment.adapter.isFallbackAdapter,
    commit: environment.gitCommit,
    deno: environment.deno.deno,
    date: new Date().toISOString(),
    preset,
  };
}

/** One run of the matrix: its id, a progress label, and how to run it. */
export interface MatrixRun<R extends MatrixRecord> {
  /** Stable id of the run. */
  id: string;
  /** What progress lines call it. */
  label: string;
  /** Trains and scores the run; the record's provenance is filled in by the runner. */
  execute(): Promise<Omit<R, "provenance">>;
}

/** Options of {@link runMatrix}. */
export interface RunMatrixOptions {
  /** The journal (JSON lines). */
  journal: string;
  /** The environment the provenance of each record is stamped from. */
  environment: Environment;
  /** The preset name stamped into each record's provenance. */
  preset: string;
  /** Progress lines. */
  log: (line: string) => void;
  /** Warnings about skipped journal lines; `console.warn` by default. */
  warn?: (line: string) => void;
  /** Run only this shard's runs (every shard plans, and checks, every run). */
  shard?: ShardContext;
}

/** Whether a parsed journal line is a record: an object with a string id, a status and a provenance. */
function isRecord(value: unknown): value is MatrixRecord {
  const r = value as Partial<MatrixRecord> | null;
  return typeof r === "object" && r !== null && typeof r.id === "string" && typeof r.status === "string" &&
    typeof r.provenance === "object" && r.provenance !== null;
}

/** The records of a journal by id (the last line of an id wins), skipping lines that are not records. */
export async function readJournal<R extends MatrixRecord>(
  path: string,
  warn: (line: string) => void = console.warn,
): Promise<Map<string, R>> {
  const accept = { test: isRecord, kind: "a run record (an id, a status and a provenance)" };
  const records = await readResults<R>(path, { warn, accept });
  return new Map(records.map((r) => [r.id, r]));
}

/**
 * Runs every run (of the shard, when given) not already in the journal, in order; returns all their records,
 * earlier ones included.
 */
export async function runMatrix<R extends MatrixRecord>(
  planned: readonly MatrixRun<R>[],
  options: RunMatrixOptions,
): Promise<R[]> {
  const ids = new Set<string>();
  for (const run of planned) {
    if (ids.has(run.id)) throw new RangeError(`Cannot plan run "${run.id}" twice: run ids must be unique`);
    ids.add(run.id);
  }
  const shard = options.shard;
  await shard?.plan([...ids]);
  const runs = shard ? planned.filter((run) => inShard(run.id, shard.shard)) : planned;
  if (shard) {
    options.log(`shard ${shard.shard.index}/${shard.shard.count}: ${runs.length} of ${planned.length} runs`);
  }
  const done = await readJournal<R>(options.journal, options.warn);
  const records: R[] = [];
  for (const [i, run] of runs.entries()) {
    const label = `[${i + 1}/${runs.length}] ${run.label}`;
    const previous = done.get(run.id);
    if (previous) {
      options.log(`${label}: recorded earlier (${previous.provenance.commit}), skipped`);
      records.push(previous);
      continue;
    }
    options.log(label);
    const record = {
      ...await run.execute(),
      provenance: provenanceOf(options.environment, options.preset),
    } as R;
    if (record.status !== "ok") options.log(`  ${record.status}: ${record.failure}`);
    await appendResult(options.journal, record);
    records.push(record);
  }
  return records;
}

/**
 * The status of a run from its logged losses: `not-learning` when the last loss is not at least 1% below the
 * first, or when it sits at or above ln(vocab) (the loss of a uniform guess: the model collapsed).
 */
export function learningStatus(losses: readonly { loss: number }[], vocabSize: number): {
  status: RunStatus;
  failure?: string;
} {
  const first = losses[0]?.loss, last = losses.at(-1)?.loss;
  if (first === undefined || last === undefined) return { status: "ok" };
  const uniform = Math.log(vocabSize);
  if (last >= uniform) {
    return {
      status: "not-learning",
      failure: `final loss ${last.toFixed(3)} ≥ ln(${vocabSize}) = ${uniform.toFixed(3)}, a uniform guess`,
    };
  }
  if (losses.length > 1 && last > 0.99 * first) {
    return {
      status: "not-learning",
      failure: `final loss ${last.toFixed(3)} is not 1% below the first, ${first.toFixed(3)}`,
    };
  }
  return { status: "ok" };
}

/**
 * Throws unless the spec carries the training size its preset gives (`size`, field by field): a spec made for
 * another size would journal a run under an id that does not say what it trained.
 */
export function checkRunSize(id: string, spec: object, size: Record<string, number>, preset: string): void {
  const fields = spec as Record<string, unknown>;
  if (Object.entries(size).every(([k, v]) => fields[k] === v)) return;
  const wanted = Object.entries(size).map(([k, v]) => `${k} ${v}`).join(", ");
  throw new RangeError(
    `Run ${id} is not of preset ${preset}'s size (${wanted}): make its spec from the preset`,
  );
}

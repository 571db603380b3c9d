/**
 * Every record a bench suite writes (to `results.json` and the run-matrix journals) and the report reads, in
 * one place: the producers (`benchmarks/`, `lib/uuid`, `lib/pretraining`, `lib/finetune`, `lib/harness`) and
 * the consumers (`lib/report`, `lib/harness/merge.ts`, `lib/harness/rebuild.ts`) import them from here. Types
 * only; what fills them is next to the code that measures it (a record's scores, merges, spectra and timings
 * keep their types there).
 *
 * @module
 */

import type { MergeEvent } from "./adapters/restarts.ts";
import type { MethodSpec } from "./experiment/setup.ts";
import type { Timing } from "./harness/timing.ts";
import type { ModuleSpectrum } from "./pretraining/spectrum.ts";
import type { EvalResult } from "./train/evaluate.ts";
import type { UuidScore } from "./uuid/score.ts";

/** Where and with what a record was measured; written once, never rewritten by a later run. */
export interface Provenance {
  /** WebGPU adapter (vendor and description). */
  adapter: string;
  /** Whether it was a software (fallback) adapter: then timings are CPU timings. */
  softwareAdapter: boolean;
  /** Git commit of the code that ran (with `-dirty` for uncommitted changes). */
  commit: string;
  /** Deno version. */
  deno: string;
  /** When the run finished, ISO 8601. */
  date: string;
  /** Preset the run belongs to. */
  preset: string;
}

/** How a run ended: trained, diverged (NaN/Inf loss), or did not learn (loss never fell). */
export type RunStatus = "ok" | "diverged" | "not-learning";

/** What every matrix record has. */
export interface MatrixRecord {
  /** Stable id of the run (the same spec gives the same id on every machine). */
  id: string;
  /** How the run ended: `ok`, `diverged` or `not-learning`. */
  status: RunStatus;
  /** What happened, for a run that did not end `ok`. */
  failure?: string;
  /** Where and when the run was measured (stamped by the runner). */
  provenance: Provenance;
}

/** One line of the bench's journal `results.jsonl`: a record of any suite, appended as soon as it is measured. */
export interface JournalEntry {
  /** The date of the bench run that wrote it. */
  date: string;
  /** The suite the record belongs to (its key in `results.json`). */
  suite: string;
  /** The suite's record. */
  record: unknown;
}

// The run-matrix suites: UUID memorization (Table 1), pretraining (Table 3), fine-tuning (Tables 2, 4).

/** What identifies a UUID run (its record's `id` is made of these). */
export interface UuidRunSpec extends MethodSpec {
  /** The UUID preset's name. */
  preset: string;
  /** Data and initialization seed. */
  seed: number;
  /** Peak learning rate. */
  lr: number;
  /** Optimizer steps (part of the id, as the next two: a resized preset reuses no run). */
  steps: number;
  /** Pairs per optimizer step. */
  batch: number;
  /** Pairs memorized in all. */
  pairs: number;
  /** Where the base came from (its directory). */
  base: string;
}

/**
 * Why a run was made: a Table 1 row (LoRA's also points of the Figure 2 sweep), a point of the sweep alone, or
 * a learning-rate search run.
 */
export type UuidRunRole = "table1" | "sweep" | "lr-search";

/** The record of a finished UUID run (`uuid` suite). */
export interface UuidRunRecord extends MatrixRecord {
  /** What identifies the run. */
  spec: UuidRunSpec;
  /** Why it was made. */
  role: UuidRunRole;
  /** Trainable parameters of the method at its rank. */
  trainableParams: number;
  /** Loss at the steps it was read back. */
  losses: { step: number; loss: number }[];
  /** Scores at the evaluation steps (fewer when the run diverged). */
  evals: ({ step: number } & UuidScore)[];
  /** Mean wall time of a training step (scoring excluded), ms. */
  msPerStep: number;
}

/** What identifies a pretraining run (its record's `id` is made of these). */
export interface PretrainRunSpec extends MethodSpec {
  /** The pretraining preset's name. */
  preset: string;
  /** Model name of the preset ({@link PretrainModel}). */
  model: string;
  /** Seed of the initialization, the data order and the adapters. */
  seed: number;
  /** Peak learning rate. */
  lr: number;
  /** Optimizer updates (part of the id, as the next two: a resized preset reuses no run). */
  steps: number;
  /** Sequences per update, across its micro-batches. */
  batch: number;
  /** Tokens per sequence. */
  seqLen: number;
}

/** Why a run was made: a Table 3 run (also Figures 4–5) or a learning-rate search run. */
export type PretrainRunRole = "table3" | "lr-search";

/** The record of a finished pretraining run (`pretrain` suite). */
export interface PretrainRunRecord extends MatrixRecord {
  /** What identifies the run. */
  spec: PretrainRunSpec;
  /** Why it was made. */
  role: PretrainRunRole;
  /** Trainable values: adapters plus embeddings, norms and LM head (every weight for FFT). */
  trainableParams: number;
  /** Training loss at the steps it was read back. */
  losses: { step: number; loss: number }[];
  /** ReLoRA/ReMoRA merges: after which update, and how long each took. */
  merges: MergeEvent[];
  /** The merge period of the run, for methods that merge. */
  mergeEvery?: number;
  /** Mean wall time of a training step, merges excluded, ms. */
  msPerStep: number;
  /** Peak GPU bytes allocated while training (weights, optimizer state, activations, scratch). */
  peakBytes: number;
  /** Held-out documents (Table 3); absent for search runs and runs that diverged. */
  validation?: EvalResult;
  /** Figure 5's singular-value counts of ΔW per module type; absent like `validation`. */
  spectrum?: ModuleSpectrum[];
}

/** What identifies a fine-tuning run (its record's `id` is made of these). */
export interface FinetuneRunSpec extends MethodSpec {
  /** The fine-tuning preset's name. */
  preset: string;
  /** The task it trains and is scored on (`lib/finetune/tasks.ts`). */
  task: string;
  /** Seed of the adapters, dropout and data order. */
  seed: number;
  /** Peak learning rate. */
  lr: number;
  /** Optimizer steps (part of the id, as `batch`: a resized preset never reuses old runs). */
  steps: number;
  /** Sequences per optimizer step. */
  batch: number;
  /** Where the base came from. */
  base: string;
  /** `analog`, or the `--data` directory. */
  data: string;
  /**
   * Of a scored run (reported, or the untrained base): the digest of the task's data and scoring sizes
   * (`taskDataDigest` in `lib/finetune/data.ts`). A search run, which reads training loss only, has none.
   */
  dataDigest?: string;
}

/**
 * Why a run was made: a reported run, a learning-rate search run (scored on training loss only), or the
 * un-fine-tuned base scored on the task (the floor a fine-tuning run must rise above to have learned).
 */
export type FinetuneRunRole = "reported" | "lr-search" | "base";

/** The record of a finished fine-tuning run (`finetune` suite). */
export interface FinetuneRunRecord extends MatrixRecord {
  spec: FinetuneRunSpec;
  role: FinetuneRunRole;
  trainableParams: number;
  steps: number;
  losses: { step: number; loss: number }[];
  /** Scores in [0, 1] by paper column (MMLU0, MMLU5, GSM8K, MATH, BioMed, Finance); none for a search run. */
  scores: Record<string, number>;
  /** Held-out perplexity of a domain task. */
  perplexity?: number;
  /**
   * Of a math task, by paper column (GSM8K, MATH): the perplexity of the held-out problems' worked solutions
   * under teacher forcing, a finer measure of the same learning than exact match (not the paper's metric).
   */
  solutionPerplexity?: Record<string, number>;
  /** Mean wall time of a training step, ms. */
  msPerStep: number;
}

// The whole-suite benchmarks: training steps (Table 5) and kernels.

/** One measured training step (`training` suite, paper Table 5). */
export interface StepRecord {
  /** `fft` or an adapter method. */
  method: string;
  /** Adapter rank r (null for fft). */
  rank: number | null;
  /** MoRA variant, when MoRA. */
  variant?: string;
  /** Whether the method trains every weight (then the nominal FLOPs are the step's: GFLOP/s is shown). */
  trainsBase: boolean;
  /** Merge-and-restart methods: the period, how many merges the run made and their mean time (left out). */
  merges?: { every: number; count: number; meanMs: number };
  /** Configuration name (`reference`, `medium`, `paper`); its methods were timed in interleaved rounds. */
  config: string;
  /** Sequences per step. */
  batch: number;
  /** Tokens per sequence. */
  seqLen: number;
  /** Trainable parameters. */
  trainableParams: number;
  /** Nominal model FLOPs of a full fine-tuning step (6N per token + attention). */
  stepFlops: number;
  /**
   * Peak bytes allocated while building the step and taking its first step (model, adapters, activations);
   * 0 on a peer's record (not measured).
   */
  peakBytes: number;
  /** Time of one step; trial i is interleaved round i. */
  timing: Timing;
  /**
   * Set on the records of a peer framework timed in the same interleaved rounds as ours (the optional
   * PyTorch-CPU peer, `benchmarks/torch_peer.py`: the same step in PyTorch on the same CPU cores); absent on
   * ours. Tables and targets of our methods read only the records without it.
   */
  framework?: "pytorch-cpu";
  /**
   * On a peer's record: what the peer ran on, with the BLAS library it loaded, e.g.
   * `torch 1.13.1, BLAS blas/libblas.so.3.11.0, 2 threads`.
   */
  frameworkBuild?: string;
  /**
   * On our records of a config that times the PyTorch-CPU peer alongside (the medium one): why it was not
   * timed (no `python3`, no torch, it failed), for the report to say so; absent when it was timed or the
   * config has no peer.
   */
  peerSkipped?: string;
}

/** One measured kernel case (`kernels` suite). */
export interface KernelRecord {
  /** Which op; `matmul-peer` is our matmul paired round by round with another implementation's (`peer`). */
  op: "matmul" | "attention" | "rmsnorm" | "matmul-peer";
  /** Short case label, e.g. `nt 256×256×256`. */
  label: string;
  /** The op's shape arguments, e.g. `{ layout: "nt", m: 256, n: 256, k: 256 }`. */
  params: Record<string, number | string>;
  /** What one repetition runs. */
  pass: "forward" | "forward+backward";
  /** Model FLOPs of one repetition (0 when not counted). */
  flops: number;
  /** Minimum bytes one repetition reads and writes (0 when not counted). */
  bytes: number;
  /** Time of one repetition. */
  timing: Timing;
  /**
   * On a `matmul-peer` record: the other implementation and its time for the same product, timed in the
   * same interleaved rounds as ours (trial i of each is round i).
   */
  peer?: { name: string; timing: Timing };
}

/**
 * Presets of the fine-tuning suites (paper §5.2 Table 2, §6.1 Table 4).
 *
 * `paper`: the paper's Table 6 for a GPU with a real LLaMA (`--base DIR`) and the real datasets
 * (`--data DIR`): batch 128; Tulu v2 2 epochs, cosine, 500 warmup steps; MetaMath 3 epochs, cosine, 300
 * warmup; BioMed/Finance 1 epoch, linear, 150 warmup; ranks 8 and 256; the rate grids of Table 6 (FFT's
 * single rate; MoRA at r = 256 its own, smaller grid).
 *
 * `quick`: the same matrix sized for 2 CPU cores and a software adapter, on the analogs. The base is the
 * `reference` LLaMA (hidden 128, 2 layers, byte vocabulary) pretrained on the corpus without the Factbook's
 * Economy sections (`lib/finetune/base.ts`). Ranks map the paper's by trainable fraction, as the UUID suite
 * does: on LLaMA-2-7B r = 8 trains 0.3% of the block weights and r = 256 trains 9.5%; here r = 1 trains 1%
 * (the least possible) and r = 8 trains 8%. Each task trains 24 optimizer steps of 4 sequences (96
 * instruction questions, 96 math problems: one epoch; a domain: 4 passes over a fixed sample of 24 windows of
 * 96 tokens, since random windows made the loss of so short a run all noise; each domain is scored on 144
 * cloze items from its 24 held-out documents), the rate grid has four points for FFT and five for every
 * adapter, and three seeds are reported for math and the domains and one for instruction (its runs all score
 * what the untrained base does): sized so that Tables 2 and 4 (58 (task, method, rank) groups) fit 30 minutes
 * on 2 quiet cores with the committed search (README: the measured time); `--seeds 0,1,2` reports three seeds
 * of every family.
 *
 * `smoke` (`deno task bench --quick`): the pipeline on a few steps of MoRA at one rank on every task (and two
 * operators for Table 4), one rate, one seed, to see that it runs; its numbers are not a result.
 *
 * @module
 */

import type { ScheduleKind } from "../train/schedule.ts";
import type { FinetuneBaseSpec } from "./base.ts";
import type { TaskFamily } from "./tasks.ts";

/** How long and how a family's task trains. */
export interface FamilySettings {
  /** Epochs over the training set (the paper's), or a fixed number of optimizer steps (the CPU presets). */
  length: { epochs: number } | { steps: number };
  /** Optimizer steps of linear warmup before the schedule. */
  warmup: number;
  /** The rate's decay after warmup (the paper's cosine or linear for the family). */
  schedule: ScheduleKind;
  /**
   * Rate grid of the search by method name, `<method>:large` for a method's grid at the large rank (Table 6
   * gives MoRA at r = 256 its own), and `default` for the rest.
   */
  lrGrid: Record<string, number[]>;
  /** Seeds of this family's reported runs when they are not the preset's `seeds` (`--seeds` overrides both). */
  seeds?: number[];
}

/** Sizes of the analogs' data. */
export interface AnalogSizes {
  /** Fine-tuning questions and held-out scored questions. */
  instruction: { train: number; test: number };
  /** Problems per tier. */
  math: { train: number; test: number };
  /**
   * Held-out documents and cloze items of each domain, at most `clozePerDocument` items from one document (the
   * items come from the documents in turn until there are enough).
   */
  domain: { heldOut: number; cloze: number; clozePerDocument: number };
}

/**
 * Everything a fine-tuning suite run is sized by: which methods, ranks, variants and tasks it trains,
 * batch and sequence sizes, each task family's length, schedule and rate grid, data sizes, seeds and base.
 */
export interface FinetunePreset {
  /** Its name (`--preset`), part of every run id and of the journal's and search file's names. */
  name: string;
  /** Methods of Table 2 (`--methods` overrides). */
  methods: string[];
  /** The small and large rank (the paper's 8 and 256). */
  ranks: number[];
  /** Table 2's variant of a method at the small and large rank (MoRA: rotation, Eq. 9; sharing, Eq. 6). */
  variants: Record<string, [string, string]>;
  /** Table 4's MoRA operators, in its row order. */
  ablationVariants: string[];
  /** Tasks of Table 2 (`--tasks` overrides). */
  tasks: string[];
  /** Sequences per optimizer step, and micro-batches it is split into. */
  batch: number;
  /** Micro-batches a step's sequences are split into (gradient accumulation); divides `batch`. */
  microBatches: number;
  /** Longest training sequence; longer examples are refused before any training. */
  maxSeqLen: number;
  /** Context of the domains' training windows and perplexity. */
  domainSeqLen: number;
  /**
   * Train a domain on a fixed sample of this many windows, in passes (the CPU presets: random windows of a
   * large domain make the training loss of a short run too noisy to tell learning from not); undefined trains
   * on random windows of the whole domain, as the paper's one epoch does.
   */
  domainWindows?: number;
  /** Held-out perplexity windows are read in at most this many batches. */
  perplexityBatches: number;
  /** Sequences per scoring batch. */
  evalBatch: number;
  /** Loss read-backs over a run. */
  lossPoints: number;
  /** Length, schedule and rate grid of each task family. */
  families: Record<TaskFamily, FamilySettings>;
  /** How many items the analogs make (the real datasets' own sizes under `--data`). */
  sizes: AnalogSizes;
  /** Seed of the learning-rate search's runs; no reported run may use it. */
  searchSeed: number;
  /** Seeds of the reported runs (`--seeds` overrides). */
  seeds: number[];
  /** Dropout on every adapter's input while training. */
  adapterDropout: number;
  /** Tokenizer of the pretrained base (lib/data/tokenizer.ts), when the base brings none. */
  tokenizer: string;
  /** Base model when `--base` is not given; undefined means `--base` is required. */
  base?: FinetuneBaseSpec;
  /** Whether `--data` is required (the paper preset runs the real datasets only). */
  needsData: boolean;
}

const TABLE2_METHODS = ["fft", "lora", "lora+", "relora", "asylora", "dora", "mora"];
const OPERATORS = ["truncation", "sharing", "decouple", "rotation"];
const TASKS = ["instruction", "math", "biomed", "finance"];
const MORA_VARIANTS: Record<string, [string, string]> = { mora: ["rotation", "sharing"] };

const QUICK_BASE: FinetuneBaseSpec = {
  preset: "reference",
  tokenizer: "byte",
  steps: 400,
  batch: 8,
  seqLen: 256,
  lr: 2e-3,
  seed: 0,
};

/**
 * The quick grid: FFT's, and every adapter's (one grid, so no method is favoured), in steps of √10. A
 * two-point grid put every choice on an edge; these wider ones leave 9 of 58 adapter choices on the low edge
 * at four points, which the fifth (1e-3) is for. The search table marks a choice still at an edge.
 */
const QUICK_GRID = { fft: [3e-4, 1e-3, 3e-3, 1e-2], default: [1e-3, 3e-3, 1e-2, 3e-2, 1e-1] };

/** The fine-tuning presets by name: `quick`, `smoke` and `paper`, as the module docs describe. */
export const FINETUNE_PRESETS: Readonly<Record<string, FinetunePreset>> = {
  quick: {
    name: "quick",
    methods: TABLE2_METHODS,
    ranks: [1, 8],
    variants: MORA_VARIANTS,
    ablationVariants: OPERATORS,
    tasks: TASKS,
    batch: 4,
    microBatches: 1,
    maxSeqLen: 224,
    domainSeqLen: 96,
    domainWindows: 24,
    perplexityBatches: 4,
    evalBatch: 16,
    lossPoints: 12,
    families: {
      // One seed: every instruction run scores the untrained base's 22.9% at this scale.
      instruction: { length: { steps: 24 }, warmup: 2, schedule: "cosine", lrGrid: QUICK_GRID, seeds: [0] },
      math: { length: { steps: 24 }, warmup: 2, schedule: "cosine", lrGrid: QUICK_GRID },
      domain: { length: { steps: 24 }, warmup: 2, schedule: "linear", lrGrid: QUICK_GRID },
    },
    sizes: {
      instruction: { train: 96, test: 48 },
      math: { train: 48, test: 32 },
      // 144 items, 7 a document, draw on all 24 held-out documents (48 left one seed's 2-point steps coarser
      // than the gaps between methods).
      domain: { heldOut: 24, cloze: 144, clozePerDocument: 7 },
    },
    searchSeed: 100,
    // Three seeds for math and the domains (instruction names its own, above); --seeds 0,1,2 gives every
    // family three.
    seeds: [0, 1, 2],
    adapterDropout: 0.05,
    tokenizer: "byte",
    base: QUICK_BASE,
    needsData: false,
  },
  smoke: {
    name: "smoke",
    methods: ["mora"],
    ranks: [1],
    variants: MORA_VARIANTS,
    ablationVariants: ["truncation", "rotation"],
    tasks: TASKS,
    batch: 4,
    microBatches: 1,
    maxSeqLen: 224,
    domainSeqLen: 64,
    domainWindows: 8,
    perplexityBatches: 1,
    evalBatch: 8,
    lossPoints: 4,
    families: {
      instruction: { length: { steps: 4 }, warmup: 1, schedule: "cosine", lrGrid: { default: [1e-2] } },
      math: { length: { steps: 4 }, warmup: 1, schedule: "cosine", lrGrid: { default: [1e-2] } },
      domain: { length: { steps: 4 }, warmup: 1, schedule: "linear", lrGrid: { default: [1e-2] } },
    },
    sizes: {
      instruction: { train: 16, test: 8 },
      math: { train: 8, test: 8 },
      domain: { heldOut: 4, cloze: 8, clozePerDocument: 4 },
    },
    searchSeed: 100,
    seeds: [0],
    adapterDropout: 0.05,
    tokenizer: "byte",
    base: { ...QUICK_BASE, steps: 30, batch: 4, seqLen: 64 },
    needsData: false,
  },
  paper: {
    name: "paper",
    methods: TABLE2_METHODS,
    ranks: [8, 256],
    variants: MORA_VARIANTS,
    ablationVariants: OPERATORS,
    tasks: TASKS,
    batch: 128,
    microBatches: 16,
    maxSeqLen: 1024,
    domainSeqLen: 1024,
    perplexityBatches: 64,
    evalBatch: 16,
    lossPoints: 100,
    // Table 6.
    families: {
      instruction: {
        length: { epochs: 2 },
        warmup: 500,
        schedule: "cosine",
        lrGrid: { fft: [2e-5], "mora:large": [3e-5, 5e-5, 7e-5], default: [1e-4, 2e-4, 3e-4] },
      },
      math: {
        length: { epochs: 3 },
        warmup: 300,
        schedule: "cosine",
        lrGrid: { fft: [2e-5], "mora:large": [3e-5, 5e-5, 7e-5], default: [1e-4, 2e-4, 3e-4] },
      },
      domain: {
        length: { epochs: 1 },
        warmup: 150,
        schedule: "linear",
        lrGrid: { fft: [3e-5], "mora:large": [5e-5, 7e-5, 1e-4], default: [3e-4, 4e-4, 5e-4] },
      },
    },
    sizes: {
      instruction: { train: 0, test: 0 },
      math: { train: 0, test: 0 },
      domain: { heldOut: 0, cloze: 1000, clozePerDocument: 4 },
    },
    searchSeed: 100,
    seeds: [0],
    adapterDropout: 0.05,
    tokenizer: "llama-bytes",
    needsData: true,
  },
};

/** The seeds of a family's reported runs: `override` (`--seeds`), else the family's own, else the preset's. */
export function familySeeds(
  preset: FinetunePreset,
  family: TaskFamily,
  override?: readonly number[],
): number[] {
  return [...override ?? preset.families[family].seeds ?? preset.seeds];
}

/** A preset by name, with a clear error listing the valid names. */
export function finetunePreset(name: string): FinetunePreset {
  const preset = FINETUNE_PRESETS[name];
  if (!preset) {
    throw new RangeError(
      `Unknown fine-tuning preset "${name}": expected one of ${Object.keys(FINETUNE_PRESETS).join(", ")}`,
    );
  }
  return preset;
}

/** The rate grid of a (method, rank) group on a family. */
export function lrGrid(preset: FinetunePreset, family: TaskFamily, method: string, large: boolean): number[] {
  const grid = preset.families[family].lrGrid;
  return (large ? grid[`${method}:large`] : undefined) ?? grid[method] ?? grid.default!;
}

/**
 * The fine-tuning tasks of paper §5.2 (Table 2) as data: what a run trains on and what it is scored on. Each
 * task is one training set of one family (instruction tuning, mathematical reasoning, continual pretraining)
 * plus the held-out items its scores come from. The same shapes hold the CPU-scale analogs
 * (`lib/finetune/analogs.ts`) and the real datasets read from `--data DIR` (`lib/finetune/readers.ts`), so one
 * scorer serves both.
 *
 * @module
 */

/** The paper's three families of fine-tuning. */
export type TaskFamily = "instruction" | "math" | "domain";

/** A supervised example: trained with the loss on the completion only. */
export interface SftExample {
  prompt: string;
  completion: string;
  /** `file:line` of a real-data example, for errors. */
  source?: string;
}

/** A multiple-choice item scored by the log-likelihood of each option as a continuation of the context. */
export interface ChoiceItem {
  context: string;
  options: string[];
  /** Index of the right option. */
  answer: number;
  source?: string;
}

/** A problem scored by exact match of the final answer in greedy generation. */
export interface MathItem {
  /** The prompt (the question in the training template). */
  prompt: string;
  /** The final answer, normalized ({@link normalizeAnswer} in `lib/finetune/score.ts`). */
  answer: string;
  /**
   * The worked solution as a training completion (a leading space, the `#### answer` line last), when the
   * data has one: the held-out solution perplexity scores it.
   */
  solution?: string;
  source?: string;
}

/** A domain document (continual pretraining trains on whole documents, loss everywhere). */
export interface DomainDocument {
  text: string;
  source?: string;
}

/** One task's data: its training set and held-out evaluation, by family. */
export type TaskData =
  | {
    family: "instruction";
    train: SftExample[];
    /** Held-out questions, zero-shot (paper column MMLU 0-shot). */
    zeroShot: ChoiceItem[];
    /** The same questions after five solved examples (paper column MMLU 5-shot). */
    fiveShot: ChoiceItem[];
  }
  | {
    family: "math";
    train: SftExample[];
    /** Held-out problems by tier: the GSM8K-like and the MATH-like one. */
    tiers: { name: string; items: MathItem[] }[];
  }
  | {
    family: "domain";
    train: DomainDocument[];
    /** Held-out documents (perplexity). */
    heldOut: DomainDocument[];
    /** Cloze items built from the held-out documents. */
    cloze: ChoiceItem[];
  };

/** What a task stands for in the paper, and what its analog can and cannot show. */
export interface TaskInfo {
  name: string;
  family: TaskFamily;
  /** The paper's Table 2 columns this task's scores go in. */
  paperColumns: string[];
  /** The analog in a few words (column headers name it). */
  analog: string;
  /** Why the analog tests the paper column's property. */
  why: string;
  /** What the analog cannot tell. */
  cannot: string;
}

/** Every task, by name, in Table 2's column order. */
export const FINETUNE_TASKS: Readonly<Record<string, TaskInfo>> = {
  instruction: {
    name: "instruction",
    family: "instruction",
    paperColumns: ["MMLU0", "MMLU5"],
    analog: "WordNet-gloss multiple choice",
    why:
      "Tulu v2 teaches a format, not knowledge, and MMLU asks facts the base already holds. Here the base " +
      "saw every WordNet gloss in pretraining, and fine-tuning teaches only a new question/answer template " +
      "over other glosses; the held-out questions are scored like MMLU, by the log-likelihood of each " +
      "option letter, zero-shot and after five solved examples.",
    cannot: "MMLU spans 57 subjects of world knowledge and reasoning; this asks one kind of fact (which " +
      "word a definition names), so it cannot show breadth, and a byte-level model of 2 layers is far from " +
      "LLaMA-2's in-context ability, so its 5-shot column says little about in-context learning.",
  },
  math: {
    name: "math",
    family: "math",
    paperColumns: ["GSM8K", "MATH"],
    analog: "generated word problems (GSM8K-like and MATH-like tiers)",
    why: "MetaMath teaches multi-step symbolic reasoning in a fixed solution format. Here generated word " +
      "problems with worked step-by-step solutions teach the same: the model must carry a quantity " +
      "through several operations; the harder tier has more steps and larger numbers, as MATH is harder " +
      "than GSM8K. Scored as the paper does, by exact match of the final answer in greedy generation on " +
      "held-out problems, and, since at CPU scale exact match sits at its floor, by the perplexity of the " +
      "held-out worked solutions under teacher forcing: a finer measure of the same learning.",
    cannot: "MATH's problems are competition mathematics (algebra, geometry, number theory) and GSM8K's " +
      "need language understanding; these are templated arithmetic chains, so they test carrying a " +
      "computation in a format, not mathematical insight. The solution perplexity is not the paper's " +
      "metric: it says how much of the solutions a run took in, not whether it would finish a problem.",
  },
  biomed: {
    name: "biomed",
    family: "domain",
    paperColumns: ["BioMed"],
    analog: "SPDX licence texts",
    why: "PubMed continual pretraining must memorize a domain the base never saw. Licence texts (npm " +
      "spdx-license-list) are a real corpus of legal prose the base's pretraining corpus does not hold; " +
      "scored by perplexity on held-out licences and a cloze test (the right word among four of its length) " +
      "built from held-out text.",
    cannot: "The paper scores BioMed by downstream question answering (PubMedQA, ChemProt, …) after " +
      "AdaptLLM's reading-comprehension preprocessing; a cloze of licence prose measures domain language " +
      "modelling, not domain question answering.",
  },
  finance: {
    name: "finance",
    family: "domain",
    paperColumns: ["Finance"],
    analog: "CIA Factbook Economy sections",
    why: "Financial-news continual pretraining must take in a new domain's facts and vocabulary. The " +
      "Factbook's Economy sections (GDP, budgets, exports, debt) are removed from this suite's base corpus, " +
      "so they are new to it; scored by perplexity on held-out countries' sections and a cloze test built " +
      "from them.",
    cannot:
      "The paper's finance tasks (FPB, FiQA SA, Headline, ConvFinQA, NER) are classification and QA; a " +
      "cloze of economy fields measures how well the domain's text is modelled, not those tasks.",
  },
};

/** The task called `name`, with a clear error listing the valid names. */
export function finetuneTask(name: string): TaskInfo {
  const task = FINETUNE_TASKS[name];
  if (!task) {
    throw new RangeError(
      `Unknown fine-tuning task "${name}": expected one of ${Object.keys(FINETUNE_TASKS).join(", ")}`,
    );
  }
  return task;
}

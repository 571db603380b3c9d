/**
 * The prompt templates every fine-tuning task shares, analog or real: MMLU's multiple-choice layout (question,
 * lettered options, `Answer:`; a k-shot prompt prepends k solved questions, as the MMLU harness does), the
 * math question/answer template with a `#### answer` final line (GSM8K's), and final-answer extraction for
 * exact match (GSM8K's `####` and MetaMath's `The answer is:`).
 *
 * @module
 */

import type { ChoiceItem, SftExample } from "./tasks.ts";

/** The option letters of a multiple-choice question. */
export const LETTERS = ["A", "B", "C", "D"] as const;

/** A question and its options in MMLU's layout, ending in `Answer:` (the letter follows). */
export function mmluPrompt(question: string, options: readonly string[]): string {
  const lines = options.map((o, i) => `${LETTERS[i]}. ${o}`);
  return `${question}\n${lines.join("\n")}\nAnswer:`;
}

/** A multiple-choice question as raw fields (MMLU CSV's columns). */
export interface McQuestion {
  question: string;
  options: string[];
  answer: number;
  source?: string;
}

/** A question as an instruction-tuning example: the prompt, and the right letter as the completion. */
export function mmluExample(q: McQuestion): SftExample {
  return { prompt: mmluPrompt(q.question, q.options), completion: ` ${LETTERS[q.answer]}`, source: q.source };
}

/**
 * Held-out questions as scored items: the options are the letters, after `shots` solved questions from `dev`
 * (0 for zero-shot), each followed by a blank line.
 */
export function mmluItems(
  test: readonly McQuestion[],
  dev: readonly McQuestion[],
  shots: number,
): ChoiceItem[] {
  if (dev.length < shots) {
    throw new RangeError(`Cannot make ${shots}-shot prompts from ${dev.length} solved question(s): add more`);
  }
  const prefix = dev.slice(0, shots).map((q) => {
    const e = mmluExample(q);
    return `${e.prompt}${e.completion}\n\n`;
  }).join("");
  return test.map((q) => ({
    context: prefix + mmluPrompt(q.question, q.options),
    options: LETTERS.slice(0, q.options.length).map((l) => ` ${l}`),
    answer: q.answer,
    source: q.source,
  }));
}

/** The math template's prompt. */
export function mathPrompt(question: string): string {
  return `Question: ${question}\nAnswer:`;
}

/**
 * The final answer of a solution or a generation: what follows `####` (GSM8K) or `The answer is` (MetaMath),
 * up to the end of its line, normalized; undefined when there is none.
 */
export function finalAnswer(text: string): string | undefined {
  const match = /####\s*([^\n]*)/.exec(text) ?? /The answer is:?\s*([^\n]*)/.exec(text);
  return match ? normalizeAnswer(match[1]!) : undefined;
}

/** An answer without surrounding space, thousands commas, a leading `$` or a trailing period. */
export function normalizeAnswer(answer: string): string {
  return answer.trim().replace(/^\$/, "").replace(/(\d),(?=\d{3})/g, "$1").replace(/\.$/, "").trim();
}

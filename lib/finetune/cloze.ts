/**
 * The domain cloze test of the continual-pretraining tasks: from held-out domain text, a word is blanked and
 * the model picks it among four words of the same length (so that no option wins by being short), each scored
 * by its log-likelihood after the text before it. Distractors come from the domain's training vocabulary.
 *
 * @module
 */

import { SeededRandom } from "../random.ts";
import { shuffled } from "./random.ts";
import type { ChoiceItem, DomainDocument } from "./tasks.ts";

const WORD = /[A-Za-z]{5,12}/g;

/** Words of the documents (5–12 letters), by length, each once. */
export function vocabularyByLength(docs: readonly DomainDocument[]): Map<number, string[]> {
  const byLength = new Map<number, Set<string>>();
  for (const doc of docs) {
    for (const [word] of doc.text.matchAll(WORD)) {
      if (!byLength.has(word.length)) byLength.set(word.length, new Set());
      byLength.get(word.length)!.add(word);
    }
  }
  return new Map([...byLength].map(([n, words]) => [n, [...words].sort()]));
}

/** Options of {@link clozeItems}. */
export interface ClozeOptions {
  /** Items to make in all. */
  count: number;
  /** At most this many per document (spreads the items over documents). */
  perDocument: number;
  /** Characters of text before the blank (the context). */
  contextChars: number;
  seed: number;
}

/**
 * Cloze items from `heldOut`, distractors from `vocabulary` ({@link vocabularyByLength} of the training
 * documents).
 *
 * @throws {RangeError} when the documents give fewer than `count` items.
 */
export function clozeItems(
  heldOut: readonly DomainDocument[],
  vocabulary: Map<number, string[]>,
  o: ClozeOptions,
): ChoiceItem[] {
  const rng = new SeededRandom(o.seed, "cloze");
  const items: ChoiceItem[] = [];
  for (const doc of heldOut) {
    const candidates = [...doc.text.matchAll(WORD)].filter((m) =>
      m.index! >= o.contextChars && /\s/.test(doc.text[m.index! - 1]!) &&
      (vocabulary.get(m[0].length)?.filter((w) => w !== m[0]).length ?? 0) >= 3
    );
    for (const m of shuffled(candidates, rng).slice(0, o.perDocument)) {
      const pool = vocabulary.get(m[0].length)!.filter((w) => w !== m[0]);
      const options = shuffled([m[0], ...shuffled(pool, rng).slice(0, 3)], rng);
      items.push({
        context: doc.text.slice(m.index! - o.contextChars, m.index!),
        options,
        answer: options.indexOf(m[0]),
        source: doc.source,
      });
      if (items.length === o.count) return items;
    }
  }
  throw new RangeError(
    `Cannot make ${o.count} cloze items from ${heldOut.length} held-out document(s): only ${items.length}; ` +
      `give more held-out text or ask for fewer items`,
  );
}

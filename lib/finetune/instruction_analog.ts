/**
 * The instruction-tuning analog (paper Table 2, MMLU 0-shot and 5-shot columns): facts the base model saw in
 * pretraining, asked in a template it never saw. Each WordNet synset of the corpus's training split (its
 * documents are `lemma, lemma: gloss; "example"` lines) becomes a question "which word is this definition
 * of", with its first lemma and three other lemmas as the options, in MMLU's layout. Fine-tuning questions,
 * the five solved questions of the 5-shot prompts and the held-out scored questions are disjoint synsets.
 *
 * @module
 */

import { loadCorpus, splitCorpus } from "../data/corpus.ts";
import { SeededRandom } from "../random.ts";
import { type McQuestion, mmluExample, mmluItems } from "./format.ts";
import { shuffled } from "./random.ts";
import type { ChoiceItem, SftExample } from "./tasks.ts";

/** Longest gloss and lemma asked, so that a 5-shot prompt fits a 512-token byte-level context. */
const MAX_GLOSS = 16, MAX_LEMMA = 7;

/** A definition and the word it defines. */
export interface Gloss {
  lemma: string;
  gloss: string;
}

/** The short single-word glosses of WordNet corpus documents (lines `lemma, lemma: gloss; examples`). */
export function shortGlosses(documents: readonly { text: string }[]): Gloss[] {
  const seen = new Set<string>();
  const out: Gloss[] = [];
  for (const doc of documents) {
    for (const line of doc.text.split("\n")) {
      const colon = line.indexOf(": ");
      if (colon < 0) continue;
      const lemma = line.slice(0, colon).split(", ")[0]!;
      const gloss = line.slice(colon + 2).split(";")[0]!.trim();
      if (!/^[a-z]{3,}$/.test(lemma) || lemma.length > MAX_LEMMA || seen.has(lemma)) continue;
      if (gloss.length < 6 || gloss.length > MAX_GLOSS || gloss.includes('"')) continue;
      seen.add(lemma);
      out.push({ lemma, gloss });
    }
  }
  return out;
}

/** A gloss as a four-option question: its lemma among three others drawn from `pool`. */
function question(g: Gloss, pool: readonly Gloss[], rng: SeededRandom): McQuestion {
  const options = new Set([g.lemma]);
  while (options.size < 4) options.add(pool[Math.floor(rng.next() * pool.length)]!.lemma);
  const shuffledOptions = shuffled([...options], rng);
  return {
    question: `Word for: ${g.gloss}`,
    options: shuffledOptions,
    answer: shuffledOptions.indexOf(g.lemma),
  };
}

/** Splits glosses into training, 5-shot and held-out questions (throws when there are too few). */
export function instructionFromGlosses(
  glosses: readonly Gloss[],
  sizes: { train: number; test: number },
  seed: number,
): { train: SftExample[]; zeroShot: ChoiceItem[]; fiveShot: ChoiceItem[] } {
  const needed = sizes.train + sizes.test + 5;
  if (glosses.length < needed) {
    throw new RangeError(`Cannot make ${needed} questions from ${glosses.length} glosses: ask for fewer`);
  }
  const rng = new SeededRandom(seed, "instruction-analog");
  const all = shuffled(glosses, rng).slice(0, needed).map((g) => question(g, glosses, rng));
  const test = all.slice(0, sizes.test), dev = all.slice(sizes.test, sizes.test + 5);
  return {
    train: all.slice(sizes.test + 5).map(mmluExample),
    zeroShot: mmluItems(test, dev, 0),
    fiveShot: mmluItems(test, dev, 5),
  };
}

/** The analog from the training split of the corpus's WordNet documents (what the base pretrained on). */
export async function instructionAnalog(sizes: { train: number; test: number }, seed: number) {
  const { train } = splitCorpus(await loadCorpus({ sources: ["wordnet"] }));
  return instructionFromGlosses(shortGlosses(train), sizes, seed);
}

/**
 * The continual-pretraining analogs (paper Table 2, BioMed and Finance columns): two domains the fine-tuning
 * base never saw. Finance: the CIA Factbook's Economy sections, which {@link baseDocuments} removes from the
 * base's corpus (the rest of each country profile stays). BioMed: SPDX licence texts (npm
 * `spdx-license-list`), legal prose that is in no corpus source. Documents are split by a seeded shuffle into
 * training and held-out ones; the cloze items come from the held-out ones.
 *
 * @module
 */

import licences from "spdx-license-list/full.js";
import { loadCorpus, normalizeText } from "../data/corpus.ts";
import { SeededRandom } from "../random.ts";
import { clozeItems, type ClozeOptions, vocabularyByLength } from "./cloze.ts";
import { shuffled } from "./random.ts";
import type { ChoiceItem, DomainDocument } from "./tasks.ts";

/** The heading of the Factbook section that is the finance domain. */
const ECONOMY = "Economy";

/** A Factbook document's sections (its text is the title, then blank-line-separated `Section\nfield: …`). */
function sections(text: string): { name: string; text: string }[] {
  return text.split("\n\n").map((block) => ({ name: block.split("\n")[0]!, text: block }));
}

/** Each country's Economy section, titled by the country. */
export async function economyDocuments(): Promise<DomainDocument[]> {
  const docs = await loadCorpus({ sources: ["factbook"] });
  return docs.flatMap((d) => {
    const [title, ...rest] = sections(d.text);
    const economy = rest.find((s) => s.name === ECONOMY);
    return economy ? [{ text: `${title!.text}\n\n${economy.text}`, source: `factbook/${d.id}` }] : [];
  });
}

/**
 * The Factbook profiles without their Economy sections: the part of the Factbook the fine-tuning base
 * pretrains on (with the corpus's other sources).
 */
export async function factbookWithoutEconomy(): Promise<{ id: string; text: string }[]> {
  const docs = await loadCorpus({ sources: ["factbook"] });
  return docs.map((d) => ({
    id: d.id,
    text: sections(d.text).filter((s) => s.name !== ECONOMY).map((s) => s.text).join("\n\n"),
  }));
}

/** Every SPDX licence text, by licence id order. */
export function licenceDocuments(): DomainDocument[] {
  const list = licences as Record<string, { licenseText: string }>;
  return Object.keys(list).sort().map((id) => ({
    text: normalizeText(list[id]!.licenseText),
    source: `spdx/${id}`,
  }))
    .filter((d) => d.text.trim().length > 0);
}

/** A domain's data: training and held-out documents and the cloze test. */
export interface DomainData {
  train: DomainDocument[];
  heldOut: DomainDocument[];
  cloze: ChoiceItem[];
}

/** Splits documents (seeded) into `heldOut` held-out ones and the rest, and builds the cloze test. */
export function domainData(
  docs: readonly DomainDocument[],
  heldOut: number,
  cloze: Omit<ClozeOptions, "seed">,
  seed: number,
): DomainData {
  if (docs.length <= heldOut) {
    throw new RangeError(`Cannot hold out ${heldOut} of ${docs.length} domain documents: hold out fewer`);
  }
  const order = shuffled(docs, new SeededRandom(seed, "domain-split"));
  const test = order.slice(0, heldOut), train = order.slice(heldOut);
  return { train, heldOut: test, cloze: clozeItems(test, vocabularyByLength(train), { ...cloze, seed }) };
}

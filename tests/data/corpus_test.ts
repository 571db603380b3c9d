import assert from "node:assert/strict";
import {
  CORPUS_SOURCES,
  type CorpusDocument,
  corpusStats,
  loadCorpus,
  normalizeText,
  splitCorpus,
} from "../../lib/data/corpus.ts";
import { brownText, factbookText, wordnetGloss } from "../../lib/data/sources.ts";

// deno-lint-ignore no-control-regex -- the test looks for control characters
const FORBIDDEN_CONTROL = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/;

function syntheticDocs(count: number): CorpusDocument[] {
  return Array.from({ length: count }, (_, i) => ({ id: `doc-${i}`, source: "brown", text: `text ${i}` }));
}

Deno.test("normalizeText composes to NFC and strips control characters except newline and tab", () => {
  assert.equal(normalizeText("e\u0301"), "\u00e9");
  assert.equal(normalizeText("a\r\nb\u0000c\u0002\u0003\u007f\u0085d\te\n"), "a\nbcd\te\n");
});

Deno.test("loadCorpus yields non-empty, normalized documents with unique ids from every source", async () => {
  const docs = await loadCorpus({ maxDocuments: 2 });
  assert.deepEqual([...new Set(docs.map((d) => d.source))], [...CORPUS_SOURCES]);
  assert.equal(docs.length, 2 * CORPUS_SOURCES.length);
  for (const doc of docs) {
    assert.ok(doc.text.trim().length > 100, `${doc.source}/${doc.id} is too short`);
    assert.ok(!FORBIDDEN_CONTROL.test(doc.text), `${doc.source}/${doc.id} has a control character`);
    assert.equal(doc.text, doc.text.normalize("NFC"));
  }
  assert.equal(new Set(docs.map((d) => `${d.source}/${d.id}`)).size, docs.length);
});

Deno.test("loadCorpus returns the same documents again and a prefix for a smaller cap", async () => {
  const three = await loadCorpus({ sources: ["factbook"], maxDocuments: 3 });
  const again = await loadCorpus({ sources: ["factbook"], maxDocuments: 3 });
  const one = await loadCorpus({ sources: ["factbook"], maxDocuments: 1 });
  assert.deepEqual(again, three);
  assert.deepEqual(one, three.slice(0, 1));
});

Deno.test("loadCorpus rejects unknown sources and non-positive caps", async () => {
  await assert.rejects(
    () => loadCorpus({ sources: ["c4"] }),
    /Unknown corpus source "c4": use any of "sotu", "brown"/,
  );
  await assert.rejects(() => loadCorpus({ maxDocuments: 0 }), /maxDocuments must be positive, got "0"/);
});

Deno.test("brownText strips POS tags and restores spacing, quotes and paragraphs", () => {
  const tagged = "\n\n\tThe/at jury/nn said/vbd ``/`` no/at ''/'' ,/, too/rb ./.\n" +
    "It/pps ended/vbd ./.\n\n\tNew/jj-hl Topic/nn-hl\nHe/pps left/vbd ./.\n";
  assert.equal(brownText(tagged), 'The jury said "no", too. It ended.\nNew Topic\nHe left.');
});

Deno.test("factbookText renders a profile as a title, section headings and field lines", () => {
  const profile = {
    Introduction: { Background: { text: "A small country." } },
    Government: { "Country name": { "conventional short form": { text: "Testland" } } },
    Geography: { Area: { total: { text: "10 sq km" }, note: null } }, // some profiles hold nulls
  };
  const text = factbookText(profile, "xx/tt");
  assert.equal(
    text,
    "Testland\n\nIntroduction\nBackground: A small country.\n\nGovernment\n" +
      "Country name, conventional short form: Testland\n\nGeography\nArea, total: 10 sq km",
  );
});

Deno.test("factbookText titles a profile by its first named form, else by the fallback", () => {
  const names = {
    "conventional short form": { text: "none" },
    "conventional long form": { text: "Long Name" },
  };
  assert.match(factbookText({ Government: { "Country name": names } }, "xx/tt"), /^Long Name\n/);
  assert.match(factbookText({ Geography: { Area: { text: "1 sq km" } } }, "xx/tt"), /^xx\/tt\n\nGeography\n/);
});

Deno.test("wordnetGloss turns a data line into lemmas and gloss, and skips license lines", () => {
  const line = "00002137 03 n 02 abstraction 0 abstract_entity 0 010 @ 00001740 n 0000 | a general concept  ";
  assert.equal(wordnetGloss(line), "abstraction, abstract entity: a general concept");
  assert.equal(wordnetGloss("  1 This software and database is being provided"), undefined);
  assert.equal(wordnetGloss("01 00 a 01 able(a) 0 000 | having the means"), "able: having the means");
});

Deno.test("splitCorpus is deterministic, disjoint, complete and near the validation fraction", () => {
  const docs = syntheticDocs(4000);
  const split = splitCorpus(docs);
  assert.deepEqual(splitCorpus(docs), split);
  assert.equal(split.train.length + split.validation.length, docs.length);
  const validationIds = new Set(split.validation.map((d) => d.id));
  assert.ok(split.train.every((d) => !validationIds.has(d.id)));
  assert.ok(
    Math.abs(split.validation.length / docs.length - 0.05) < 0.015,
    `${split.validation.length} held out`,
  );
  const subset = splitCorpus(docs.slice(0, 500), 0.05);
  assert.ok(
    subset.validation.every((d) => validationIds.has(d.id)),
    "split depends on which docs were loaded",
  );
  assert.equal(splitCorpus(docs, 0).validation.length, 0);
  assert.throws(() => splitCorpus(docs, 1), /Validation fraction must be in \[0, 1\), got "1"/);
});

Deno.test("corpusStats counts documents and UTF-8 bytes per source", () => {
  const docs: CorpusDocument[] = [
    { id: "a", source: "sotu", text: "héllo" },
    { id: "b", source: "brown", text: "abc" },
    { id: "c", source: "sotu", text: "😀" },
  ];
  const stats = corpusStats(docs);
  assert.deepEqual(stats.map(({ source, documents, bytes }) => ({ source, documents, bytes })), [
    { source: "sotu", documents: 2, bytes: 10 },
    { source: "brown", documents: 1, bytes: 3 },
  ]);
  assert.match(stats[0]!.pkg, /^@stdlib\/datasets-sotu@\d+\.\d+\.\d+$/);
});

/**
 * Readers of the real fine-tuning datasets in their published formats, for `--data DIR` (the GPU path):
 *
 * - `DIR/instruction/train.jsonl`: Tulu v2 chat JSONL, `{"messages": [{"role", "content"}, …]}`;
 *   `DIR/instruction/mmlu/{dev,test}/<subject>_{dev,test}.csv`: MMLU's CSV (no header; question, A, B, C, D,
 *   answer letter), the 5-shot prompts from the subject's dev file, as the MMLU harness does.
 * - `DIR/math/train.jsonl`: MetaMath `{"query", "response"}` or GSM8K `{"question", "answer"}` lines;
 *   `DIR/math/gsm8k.jsonl` and `DIR/math/math.jsonl`: held-out problems in GSM8K's format (final answer after
 *   `####`).
 * - `DIR/<domain>/{train,test}.txt` (domains `biomed`, `finance`): plain text, one document per
 *   blank-line-separated block.
 *
 * A file that is missing, empty or malformed is refused with its path and line number, before any training.
 *
 * @module
 */

import { join } from "node:path";
import { finalAnswer, mathPrompt, type McQuestion, mmluItems } from "./format.ts";
import type { DomainDocument, MathItem, SftExample } from "./tasks.ts";

/** A record of a data file and where it starts (`path:line`). */
interface Located<T> {
  value: T;
  at: string;
}

async function readText(path: string, what: string): Promise<string> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new RangeError(`Cannot read ${what}: "${path}" does not exist; put the file there (see --help)`);
    }
    throw error;
  }
  if (text.trim() === "") throw new RangeError(`Cannot read ${what}: "${path}" is empty`);
  return text;
}

/** The JSON objects of a JSON-lines file, each with its line; blank lines are skipped. */
export async function readJsonl(path: string, what: string): Promise<Located<Record<string, unknown>>[]> {
  const out: Located<Record<string, unknown>>[] = [];
  (await readText(path, what)).split("\n").forEach((line, i) => {
    if (line.trim() === "") return;
    const at = `${path}:${i + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new SyntaxError(`Cannot read ${what}: ${at} is not JSON (${(error as Error).message})`);
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new SyntaxError(`Cannot read ${what}: ${at} is not a JSON object`);
    }
    out.push({ value: value as Record<string, unknown>, at });
  });
  return out;
}

function stringField(r: Located<Record<string, unknown>>, field: string, what: string): string {
  const v = r.value[field];
  if (typeof v !== "string" || v.trim() === "") {
    throw new SyntaxError(`Cannot read ${what}: ${r.at} has no non-empty string "${field}"`);
  }
  return v;
}

/** MetaMath (`query`/`response`) or GSM8K (`question`/`answer`) lines as training examples. */
export async function readMathTrain(path: string): Promise<SftExample[]> {
  const what = "math training data (MetaMath or GSM8K JSONL)";
  return (await readJsonl(path, what)).map((r) => {
    const [q, a] = "query" in r.value ? ["query", "response"] : ["question", "answer"];
    return {
      prompt: mathPrompt(stringField(r, q!, what)),
      completion: ` ${stringField(r, a!, what)}`,
      source: r.at,
    };
  });
}

/**
 * GSM8K-format lines as held-out problems: the final answer after `####`, and the whole `answer` field (the
 * worked solution) as the solution, as {@link readMathTrain} makes GSM8K's completions.
 */
export async function readMathTest(path: string): Promise<MathItem[]> {
  const what = "math test problems (GSM8K JSONL)";
  return (await readJsonl(path, what)).map((r) => {
    const solution = stringField(r, "answer", what), answer = finalAnswer(solution);
    if (answer === undefined || answer === "") {
      throw new SyntaxError(`Cannot read ${what}: ${r.at} has no final answer ("#### …") in "answer"`);
    }
    return {
      prompt: mathPrompt(stringField(r, "question", what)),
      answer,
      solution: ` ${solution}`,
      source: r.at,
    };
  });
}

/** Tulu's chat template, as open-instruct formats a conversation for training. */
function tuluTurn(role: string, content: string): string {
  return `<|${role}|>\n${content}\n`;
}

/**
 * Tulu chat lines as training examples: the last assistant message is the completion, every message before
 * it (in Tulu's template) the prompt.
 */
export async function readTuluChat(path: string): Promise<SftExample[]> {
  const what = "instruction data (Tulu chat JSONL)";
  return (await readJsonl(path, what)).map((r) => {
    const messages = r.value.messages;
    const valid = Array.isArray(messages) && messages.length >= 2 &&
      messages.every((m) =>
        typeof m?.role === "string" && ["system", "user", "assistant"].includes(m.role) &&
        typeof m?.content === "string"
      );
    if (!valid) {
      throw new SyntaxError(
        `Cannot read ${what}: ${r.at} needs "messages", at least two {role, content} objects with roles ` +
          `system, user or assistant`,
      );
    }
    const turns = messages as { role: string; content: string }[];
    const last = turns.at(-1)!;
    if (last.role !== "assistant") {
      throw new SyntaxError(`Cannot read ${what}: ${r.at} does not end with an assistant message`);
    }
    const prompt = turns.slice(0, -1).map((m) => tuluTurn(m.role, m.content)).join("") + "<|assistant|>\n";
    return { prompt, completion: last.content, source: r.at };
  });
}

/** RFC 4180 CSV records (quoted fields may hold commas, quotes as `""`, and newlines), with their lines. */
export function parseCsv(text: string, path: string): Located<string[]>[] {
  const records: Located<string[]>[] = [];
  let field = "", fields: string[] = [], quoted = false, line = 1, start = 1, at = 0;
  const endRecord = () => {
    fields.push(field);
    if (fields.length > 1 || fields[0] !== "") records.push({ value: fields, at: `${path}:${start}` });
    [field, fields, start] = ["", [], line];
  };
  for (; at < text.length; at++) {
    const c = text[at]!;
    if (quoted) {
      if (c === '"' && text[at + 1] === '"') [field, at] = [field + '"', at + 1];
      else if (c === '"') quoted = false;
      else {
        if (c === "\n") line++;
        field += c;
      }
    } else if (c === '"' && field === "") quoted = true;
    else if (c === ",") [fields, field] = [[...fields, field], ""];
    else if (c === "\n") {
      line++;
      endRecord();
    } else if (c !== "\r") field += c;
  }
  if (quoted) {
    throw new SyntaxError(`Cannot read "${path}": a quoted field starting by line ${start} never ends`);
  }
  if (field !== "" || fields.length > 0) endRecord();
  return records;
}

/** MMLU CSV rows (question, four options, answer letter) as questions. */
export async function readMmluCsv(path: string): Promise<McQuestion[]> {
  const what = "MMLU questions (CSV: question,A,B,C,D,answer)";
  const rows = parseCsv(await readText(path, what), path);
  return rows.map(({ value, at }) => {
    const answer = "ABCD".indexOf(value[5]?.trim() ?? "?");
    if (value.length !== 6 || answer < 0 || value[5]!.trim().length !== 1) {
      throw new SyntaxError(
        `Cannot read ${what}: ${at} has ${value.length} field(s) ending in "${value.at(-1)}"; expected 6, ` +
          `the last one A, B, C or D`,
      );
    }
    return { question: value[0]!, options: value.slice(1, 5), answer, source: at };
  });
}

/** Plain-text documents (blank-line-separated blocks). */
export async function readPlainText(path: string): Promise<DomainDocument[]> {
  const text = await readText(path, "domain text");
  const docs: DomainDocument[] = [];
  let block: string[] = [], start = 1;
  text.split("\n").forEach((line, i) => {
    if (line.trim() === "") {
      if (block.length > 0) docs.push({ text: block.join("\n"), source: `${path}:${start}` });
      block = [];
      return;
    }
    if (block.length === 0) start = i + 1;
    block.push(line);
  });
  if (block.length > 0) docs.push({ text: block.join("\n"), source: `${path}:${start}` });
  return docs;
}

/** The MMLU subjects of `dir/test` (`<subject>_test.csv`), sorted. */
async function mmluSubjects(dir: string): Promise<string[]> {
  const subjects: string[] = [];
  try {
    for await (const e of Deno.readDir(join(dir, "test"))) {
      if (e.isFile && e.name.endsWith("_test.csv")) subjects.push(e.name.slice(0, -"_test.csv".length));
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  if (subjects.length === 0) {
    throw new RangeError(`Cannot read MMLU: "${join(dir, "test")}" holds no <subject>_test.csv file`);
  }
  return subjects.sort();
}

/** MMLU's held-out questions, zero-shot and 5-shot (the subject's first five dev questions). */
export async function readMmlu(dir: string) {
  const zeroShot = [], fiveShot = [];
  for (const subject of await mmluSubjects(dir)) {
    const test = await readMmluCsv(join(dir, "test", `${subject}_test.csv`));
    const dev = await readMmluCsv(join(dir, "dev", `${subject}_dev.csv`));
    zeroShot.push(...mmluItems(test, dev, 0));
    fiveShot.push(...mmluItems(test, dev, 5));
  }
  return { zeroShot, fiveShot };
}

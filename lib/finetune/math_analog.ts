/**
 * The mathematical-reasoning analog (paper Table 2, GSM8K and MATH columns): generated word problems whose
 * worked solutions carry a quantity through a chain of operations, one equation per step, ending in GSM8K's
 * `#### answer` line. The GSM8K-like tier has 2 steps on numbers below 20; the MATH-like tier has 3 steps on
 * larger numbers. Training problems and held-out problems come from different random streams and no
 * held-out question is also a training question.
 *
 * @module
 */

import { SeededRandom } from "../random.ts";
import { mathPrompt } from "./format.ts";
import { intIn, pick } from "./random.ts";
import type { MathItem, SftExample } from "./tasks.ts";

/** How hard a tier's problems are. */
export interface MathTier {
  name: string;
  steps: number;
  /** Range of the starting quantity. */
  start: [number, number];
  /** Range of an added or removed amount. */
  addend: [number, number];
  /** Range of a multiplier or divisor. */
  factor: [number, number];
}

/** The two tiers: the GSM8K-like and the harder MATH-like one. */
export const MATH_TIERS: readonly MathTier[] = [
  { name: "gsm8k-like", steps: 2, start: [2, 19], addend: [1, 9], factor: [2, 3] },
  { name: "math-like", steps: 3, start: [10, 99], addend: [10, 99], factor: [2, 9] },
];

const NAMES = ["Ann", "Bob", "Cal", "Dee", "Eve", "Fay", "Gus", "Hal", "Ida", "Jo"];
const ITEMS = ["pens", "cups", "eggs", "coins", "books", "cards", "apples", "stamps"];

/** A problem: its question, its worked solution and its final answer. */
export interface MathProblem {
  question: string;
  solution: string;
  answer: string;
}

type Step = { phrase: string; equation: string; value: number };

function step(rng: SeededRandom, tier: MathTier, x: number): Step {
  const kind = pick(rng, ["add", "sub", "mul", "div"] as const);
  if (kind === "sub" && x > 1) {
    const k = intIn(rng, 1, Math.min(x - 1, tier.addend[1]));
    return { phrase: `They lose ${k}.`, equation: `${x}-${k}=${x - k}.`, value: x - k };
  }
  if (kind === "mul") {
    const k = intIn(rng, ...tier.factor);
    return { phrase: `They get ${k} times as many.`, equation: `${x}*${k}=${x * k}.`, value: x * k };
  }
  const divisors = Array.from({ length: tier.factor[1] - 1 }, (_, i) => i + 2).filter((d) => x % d === 0);
  if (kind === "div" && divisors.length > 0) {
    const k = pick(rng, divisors);
    return { phrase: `They keep 1/${k} of them.`, equation: `${x}/${k}=${x / k}.`, value: x / k };
  }
  const k = intIn(rng, ...tier.addend);
  return { phrase: `They get ${k} more.`, equation: `${x}+${k}=${x + k}.`, value: x + k };
}

/** One problem of `tier` from `rng`. */
export function mathProblem(rng: SeededRandom, tier: MathTier): MathProblem {
  const name = pick(rng, NAMES), items = pick(rng, ITEMS);
  let x = intIn(rng, ...tier.start);
  const phrases = [`${name} has ${x} ${items}.`];
  const equations: string[] = [];
  for (let i = 0; i < tier.steps; i++) {
    const s = step(rng, tier, x);
    phrases.push(s.phrase);
    equations.push(s.equation);
    x = s.value;
  }
  phrases.push(`How many ${items} now?`);
  return { question: phrases.join(" "), solution: `${equations.join(" ")}\n#### ${x}`, answer: String(x) };
}

/** A problem as a training example in the shared math template. */
export function mathExample(p: MathProblem): SftExample {
  return { prompt: mathPrompt(p.question), completion: ` ${p.solution}` };
}

/** `count` distinct problems of `tier`, from the named stream, none of whose questions is in `exclude`. */
function problems(tier: MathTier, count: number, seed: number, stream: string, exclude: Set<string>) {
  const rng = new SeededRandom(seed, `math-${stream}-${tier.name}`);
  const out: MathProblem[] = [];
  for (let tries = 0; out.length < count; tries++) {
    if (tries > 100 * count) throw new RangeError(`Cannot draw ${count} distinct ${tier.name} problems`);
    const p = mathProblem(rng, tier);
    if (exclude.has(p.question)) continue;
    exclude.add(p.question);
    out.push(p);
  }
  return out;
}

/**
 * The analog's data: `train` problems per tier (both tiers train, as MetaMath covers GSM8K and MATH), and
 * `test` held-out problems per tier.
 */
export function mathAnalog(sizes: { train: number; test: number }, seed: number): {
  train: SftExample[];
  tiers: { name: string; items: MathItem[] }[];
} {
  const seen = new Set<string>();
  const train = MATH_TIERS.flatMap((t) => problems(t, sizes.train, seed, "train", seen)).map(mathExample);
  const tiers = MATH_TIERS.map((t) => ({
    name: t.name,
    items: problems(t, sizes.test, seed, "test", seen).map((p) => ({
      prompt: mathPrompt(p.question),
      answer: p.answer,
      solution: mathExample(p).completion,
    })),
  }));
  return { train, tiers };
}

import assert from "node:assert/strict";
import {
  comparePerplexity,
  mathPerplexityClaim,
  operatorPerplexityClaim,
  PPL_MARGIN,
} from "../../lib/report/solution_perplexity.ts";

Deno.test("perplexities differ only beyond the fixed margin and, with seeds, beyond their summed sds", () => {
  assert.equal(PPL_MARGIN, 0.05);
  assert.equal(comparePerplexity([10.6], [10]), "higher");
  assert.equal(comparePerplexity([10.4], [10]), "within");
  assert.equal(comparePerplexity([9.4], [10]), "lower");
  // 12 against 10 is beyond the margin, but not beyond sds of 1.5 and 1.
  assert.equal(comparePerplexity([10.5, 12, 13.5], [9, 10, 11]), "within");
  assert.equal(comparePerplexity([11.9, 12, 12.1], [9.9, 10, 10.1]), "higher");
});

Deno.test("the math claim on solution perplexity: agrees, partly agrees or disagrees, by most methods", () => {
  const fft = [5];
  const closes = mathPerplexityClaim("GSM8K", fft, [
    { label: "LoRA", small: [15], large: [5.1] },
    { label: "MoRA", small: [14], large: [5.2] },
  ]);
  assert.match(closes, /FFT 5\.00, LoRA 15\.00 → 5\.10, MoRA 14\.00 → 5\.20/);
  assert.match(
    closes,
    /for 2 of 2 methods, the large rank below the small for 2 and within the margin of FFT for 2\. This agrees/,
  );
  const narrows = mathPerplexityClaim("GSM8K", fft, [{ label: "LoRA", small: [15], large: [9] }]);
  assert.match(narrows, /partly agrees: the large rank narrows the gap but does not close it/);
  const flat = mathPerplexityClaim("GSM8K", fft, [{ label: "LoRA", small: [15], large: [14.9] }]);
  assert.match(flat, /narrows the gap for only 0 of 1 methods and closes it for 0, which disagrees/);
  const half = mathPerplexityClaim("GSM8K", fft, [
    { label: "LoRA", small: [15], large: [9] },
    { label: "MoRA", small: [15], large: [14.9] },
  ]);
  assert.match(half, /narrows the gap for only 1 of 2 methods and closes it for 0, which disagrees/);
  const level = mathPerplexityClaim("MATH", fft, [{ label: "LoRA", small: [5.1], large: [5] }]);
  assert.match(level, /MATH-like tier.*Most small-rank runs are not above FFT, which disagrees/);
});

Deno.test("the operator ranking on solution perplexity, pair by pair: holds, reversed or within the margin", () => {
  const of = (values: Record<string, number>) => (v: string) => values[v] === undefined ? [] : [values[v]!];
  const agrees = operatorPerplexityClaim(1, of({ rotation: 5, decouple: 5.1, sharing: 6, truncation: 8 }));
  assert.match(agrees!, /at r = 1: rotation 5\.00, decouple 5\.10, sharing 6\.00, truncation 8\.00/);
  assert.match(agrees!, /Every pair holds, which agrees/);
  const reversed = operatorPerplexityClaim(1, of({ rotation: 7, decouple: 5, sharing: 6, truncation: 8 }));
  assert.match(
    reversed!,
    /sharing above rotation is reversed.*Reversed: sharing is below rotation, which disagrees/,
  );
  const within = operatorPerplexityClaim(1, of({ rotation: 5.9, decouple: 5, sharing: 6, truncation: 8 }));
  assert.match(
    within!,
    /sharing above rotation is within the margin.*1 of 3 pairs are within the margin, so our analog does not show/,
  );
  assert.equal(operatorPerplexityClaim(1, of({ rotation: 5, decouple: 5, sharing: 6 })), undefined);
});

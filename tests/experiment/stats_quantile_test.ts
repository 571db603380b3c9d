import assert from "node:assert/strict";
import {
  formatMedianIqr,
  medianIqr,
  pairedRatio,
  quantile,
  verdictAtMost,
} from "../../lib/experiment/stats.ts";

Deno.test("quantiles interpolate between order statistics (R type 7)", () => {
  assert.equal(quantile([3, 1, 2], 0.5), 2);
  assert.equal(quantile([1, 2, 3, 4], 0.25), 1.75);
  assert.equal(quantile([1, 2, 3, 4], 0.75), 3.25);
  assert.equal(quantile([5], 0.9), 5);
  assert.throws(() => quantile([], 0.5), /no values/);
  assert.deepEqual(medianIqr([1, 2, 3, 4, 5]), { median: 3, q1: 2, q3: 4 });
  assert.equal(formatMedianIqr({ median: 1, q1: 0.5, q3: 1.25 }), "1.00 [0.50–1.25]");
});

Deno.test("pairedRatio divides round by round and refuses unequal series", () => {
  assert.deepEqual(pairedRatio([2, 4, 6], [1, 2, 2]), { median: 2, q1: 2, q3: 2.5 });
  assert.throws(() => pairedRatio([1, 2], [1]), /equal lengths/);
});

Deno.test("a ratio meets a bound only when its whole interquartile range is under it", () => {
  assert.equal(verdictAtMost({ median: 0.9, q1: 0.85, q3: 0.95 }, 1), "met");
  assert.equal(verdictAtMost({ median: 0.98, q1: 0.9, q3: 1.05 }, 1), "inconclusive");
  assert.equal(verdictAtMost({ median: 1.2, q1: 1.1, q3: 1.3 }, 1), "missed");
});

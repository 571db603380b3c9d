import assert from "node:assert/strict";
import {
  chooseRate,
  finalTrainingLoss,
  type GridPoint,
  SELECTION_RULE,
  updatedSearch,
} from "../../lib/experiment/lr_search.ts";
import { formatMeanSd, meanSd, SD_MEANING } from "../../lib/experiment/stats.ts";

const losses = (...values: number[]) => values.map((loss) => ({ loss }));
const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

Deno.test("finalTrainingLoss is the mean of the last 10% of logged points, at least the last one", () => {
  assert.equal(finalTrainingLoss(losses(...range(20))), 19.5); // the last 2 of 20
  assert.equal(finalTrainingLoss(losses(...range(100))), 95.5); // the last 10: 91..100
  assert.equal(finalTrainingLoss(losses(...range(15))), 14.5); // 1.5 points round to 2
  assert.equal(finalTrainingLoss(losses(...range(4))), 4); // 0.4 points: the last one
  assert.equal(finalTrainingLoss(losses(7, 3)), 3);
  assert.equal(finalTrainingLoss(losses(2.5)), 2.5);
  assert.ok(Number.isNaN(finalTrainingLoss([])));
  assert.ok(Number.isNaN(finalTrainingLoss(losses(...range(19), NaN))), "a NaN at the end shows");
});

Deno.test("chooseRate picks the lowest criterion among runs that trained", () => {
  const grid: GridPoint[] = [
    { lr: 1e-3, status: "ok", criterion: 2.0 },
    { lr: 3e-3, status: "ok", criterion: 1.5 },
    { lr: 1e-2, status: "ok", criterion: 1.7 },
  ];
  assert.equal(chooseRate(grid), 3e-3);
  assert.equal(chooseRate([...grid].reverse()), 3e-3, "the grid's order does not matter");
});

Deno.test("chooseRate never picks a run that diverged, did not learn or has a non-finite criterion", () => {
  const grid: GridPoint[] = [
    { lr: 1e-4, status: "ok", criterion: 2.0 },
    { lr: 3e-4, status: "ok", criterion: NaN },
    { lr: 1e-3, status: "ok", criterion: -Infinity },
    { lr: 3e-3, status: "not-learning", criterion: 0.5 },
    { lr: 1e-2, status: "diverged", criterion: 0.1 },
    { lr: 3e-2, status: "diverged", criterion: NaN },
  ];
  assert.equal(chooseRate(grid), 1e-4);
});

Deno.test("chooseRate breaks a tie toward the smaller rate", () => {
  const grid: GridPoint[] = [
    { lr: 1e-2, status: "ok", criterion: 1.25 },
    { lr: 2e-3, status: "ok", criterion: 1.25 },
    { lr: 5e-3, status: "ok", criterion: 1.25 },
    { lr: 1e-4, status: "ok", criterion: 1.5 },
  ];
  assert.equal(chooseRate(grid), 2e-3);
  assert.equal(chooseRate([...grid].reverse()), 2e-3);
});

Deno.test("chooseRate is undefined when no rate trained", () => {
  assert.equal(chooseRate([]), undefined);
  assert.equal(
    chooseRate([
      { lr: 1e-3, status: "diverged", criterion: NaN },
      { lr: 1e-4, status: "not-learning", criterion: 3.3 },
      { lr: 1e-5, status: "ok", criterion: NaN },
    ]),
    undefined,
  );
});

Deno.test("the selection rule says what chooseRate does", () => {
  for (
    const words of [/lowest final training loss/, /last 10%/, /diverged or did not learn/, /smaller rate/]
  ) {
    assert.match(SELECTION_RULE, words);
  }
});

Deno.test("meanSd gives the mean and the sample standard deviation (n − 1)", () => {
  const { mean, sd, n } = meanSd([2, 4, 4, 4, 5, 5, 7, 9]);
  assert.equal(mean, 5);
  assert.equal(n, 8);
  // Σ(v − 5)² = 32: the population sd would be √(32/8) = 2.
  assert.ok(Math.abs(sd - Math.sqrt(32 / 7)) < 1e-12, `sd ${sd}`);
  assert.deepEqual(meanSd([1, 3]), { mean: 2, sd: Math.SQRT2, n: 2 });
  assert.deepEqual(meanSd([0.25]), { mean: 0.25, sd: 0, n: 1 });
  assert.deepEqual(meanSd([3, 3, 3]), { mean: 3, sd: 0, n: 3 });
  assert.match(SD_MEANING, /sample standard deviation over seeds \(n − 1\)/);
});

Deno.test("formatMeanSd writes mean ± sd, scaled and rounded, and the mean alone for one value", () => {
  assert.equal(formatMeanSd([1, 2, 3]), "2.0 ± 1.0");
  assert.equal(formatMeanSd([0.1, 0.2, 0.3], 100, 2), "20.00 ± 10.00");
  assert.equal(formatMeanSd([0.912, 0.934], 100), "92.3 ± 1.6");
  assert.equal(formatMeanSd([0.5]), "0.5");
  assert.equal(formatMeanSd([0.5], 100, 0), "50");
});

Deno.test("a bench that searched some groups keeps the saved search of the others", () => {
  const saved = [{ id: "fft|lr1", v: 1 }, { id: "lora|lr1", v: 1 }];
  const searched = [{ id: "lora|lr1", v: 2 }, { id: "lora|lr2", v: 2 }];
  assert.deepEqual(updatedSearch(saved, searched), [{ id: "fft|lr1", v: 1 }, ...searched]);
});

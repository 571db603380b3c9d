import assert from "node:assert/strict";
import { numberFlag, numberList, parseCliArgs } from "../../lib/cli/run_cli.ts";

Deno.test("numberFlag checks the kind and range of a value, naming the flag and what it expects", () => {
  assert.equal(numberFlag("lr", "1e-3", { above: 0 }), 1e-3);
  assert.equal(numberFlag("seed", "0", { integer: true, min: 0 }), 0);
  const cases: [string, string, Parameters<typeof numberFlag>[2], string][] = [
    ["lr", "0", { above: 0 }, 'Cannot use --lr "0": expected a number above 0'],
    ["lr", "-1", { above: 0 }, 'Cannot use --lr "-1": expected a number above 0'],
    ["batch", "0", { integer: true, min: 1 }, 'Cannot use --batch "0": expected an integer of at least 1'],
    ["seq", "2.5", { integer: true, min: 1 }, 'Cannot use --seq "2.5": expected an integer of at least 1'],
    ["steps", "", {}, 'Cannot use --steps "": expected a number'],
    ["steps", "ten", { integer: true }, 'Cannot use --steps "ten": expected an integer'],
  ];
  for (const [name, value, rule, message] of cases) {
    assert.throws(() => numberFlag(name, value, rule), { name: "RangeError", message });
  }
});

Deno.test("numberList checks every entry", () => {
  assert.deepEqual(numberList("lrs", "1e-3,2e-3", { above: 0 }), [1e-3, 2e-3]);
  assert.equal(numberList("lrs", undefined, { above: 0 }), undefined);
  assert.throws(() => numberList("lrs", "1e-3,0", { above: 0 }), /--lrs "0": expected a number above 0/);
  assert.throws(
    () => numberList("ranks", "8,", { integer: true, min: 1 }),
    /--ranks "": expected an integer/,
  );
});

Deno.test("parseCliArgs says to write a value that starts with - with =", () => {
  const options = { lr: { type: "string" }, quick: { type: "boolean" } } as const;
  assert.equal(parseCliArgs({ args: ["--lr=-1"], options }).values.lr, "-1");
  assert.throws(() => parseCliArgs({ args: ["--quick", "--lr", "-1"], options }), {
    name: "RangeError",
    message:
      'Cannot read --lr "-1": a value starting with "-" reads as a flag; write it with "=", as --lr=-1',
  });
  assert.throws(() => parseCliArgs({ args: ["--rate", "1"], options }), /Unknown option '--rate'/);
});

import assert from "node:assert/strict";
import { BENCH_RUN, deno } from "../_cli.ts";

Deno.test("bench refuses bad number lists, naming the flag, before it touches --out", async () => {
  const root = await Deno.makeTempDir();
  try {
    const out = `${root}/out`;
    const cases: [string[], RegExp][] = [
      [["--lrs", "0"], /error: Cannot use --lrs "0": expected a number above 0/],
      [["--lrs=1e-3,-1"], /error: Cannot use --lrs "-1": expected a number above 0/],
      [
        ["--lrs", "-1"],
        /error: Cannot read --lrs "-1": a value starting with "-" reads as a flag; .* as --lrs=-1/,
      ],
      [["--ranks", "0,8"], /error: Cannot use --ranks "0": expected an integer of at least 1/],
      [["--seeds", "1.5"], /error: Cannot use --seeds "1.5": expected an integer of at least 0/],
    ];
    for (const [args, message] of cases) {
      const run = await deno([...BENCH_RUN, "--suite", "uuid", "--out", out, ...args]);
      assert.equal(run.code, 1, args.join(" "));
      assert.match(run.stderr, message);
    }
    await assert.rejects(Deno.stat(out), Deno.errors.NotFound, "nothing was written");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

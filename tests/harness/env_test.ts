import assert from "node:assert/strict";
import { adapterName, describeAdapter, gitCommit, recordEnvironment } from "../../lib/harness/env.ts";

const adapter = { vendor: "mesa", architecture: "", description: "llvmpipe", isFallbackAdapter: true };

Deno.test("the environment records adapter, Deno, commit, date, OS and CPUs", async () => {
  const env = await recordEnvironment(adapter);
  assert.deepEqual(env.adapter, adapter);
  assert.equal(env.deno.deno, Deno.version.deno);
  assert.match(env.gitCommit, /^([0-9a-f]{4,}(-dirty)?|unknown)$/);
  assert.ok(Math.abs(Date.parse(env.date) - Date.now()) < 60_000, env.date);
  assert.equal(env.os, Deno.build.os);
  assert.ok(env.cpuCount >= 1);
});

Deno.test("the commit of this repository is its HEAD", async () => {
  const head = await new Deno.Command("git", { args: ["rev-parse", "--short", "HEAD"], stdout: "piped" })
    .output();
  const expected = new TextDecoder().decode(head.stdout).trim();
  assert.ok((await gitCommit()).startsWith(expected));
});

Deno.test("the commit is unknown without a repository or without git", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assert.equal(await gitCommit("git", dir), "unknown");
    assert.equal(await gitCommit("/nonexistent/git"), "unknown");
    assert.equal((await recordEnvironment(adapter, { git: "/nonexistent/git" })).gitCommit, "unknown");
  } finally {
    await Deno.remove(dir);
  }
});

Deno.test("software adapters are labelled in their description", () => {
  assert.equal(describeAdapter(adapter), "mesa: llvmpipe (software adapter: timings are CPU timings)");
  assert.equal(describeAdapter({ ...adapter, vendor: "", isFallbackAdapter: false }), "llvmpipe");
  assert.equal(adapterName(adapter), "mesa: llvmpipe");
});

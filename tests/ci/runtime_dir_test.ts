/**
 * Mesa's Vulkan loader prints "XDG_RUNTIME_DIR is invalid or not set in the environment" when the variable
 * is unset; `requestGpu` gives the process a private one first. These run the real entry points with the
 * variable unset and check that the noise is gone and the folder is removed at exit.
 */

import assert from "node:assert/strict";
import { gpuTest } from "../_gpu.ts";
import { TRAIN_RUN } from "../_cli.ts";

const NOISE = /XDG_RUNTIME_DIR/;

/** `deno ARGS` with XDG_RUNTIME_DIR unset; its exit code and output. */
async function withoutRuntimeDir(args: string[]) {
  const env = { ...Deno.env.toObject() };
  delete env.XDG_RUNTIME_DIR;
  const output = await new Deno.Command(Deno.execPath(), { args, env, clearEnv: true, stdin: "null" })
    .output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: output.code, stdout: decode(output.stdout), stderr: decode(output.stderr) };
}

Deno.test({
  name: "requestGpu sets a private XDG_RUNTIME_DIR (mode 0700) when unset, and removes it at exit",
  ...gpuTest,
  async fn() {
    const device = new URL("../../lib/gpu/device.ts", import.meta.url).href;
    const code = `const { requestGpu } = await import("${device}");
      const gpu = await requestGpu();
      const dir = Deno.env.get("XDG_RUNTIME_DIR");
      console.log(JSON.stringify({ dir, mode: Deno.statSync(dir).mode & 0o777 }));
      gpu.device.destroy();`;
    const run = await withoutRuntimeDir(["eval", "--allow-read", "--allow-write", "--allow-env", code]);
    assert.equal(run.code, 0, run.stderr);
    assert.doesNotMatch(run.stderr, NOISE);
    const { dir, mode } = JSON.parse(run.stdout);
    assert.equal(mode, 0o700);
    await assert.rejects(Deno.stat(dir), Deno.errors.NotFound, "removed at exit");
  },
});

Deno.test({
  name: "deno task train prints no XDG_RUNTIME_DIR noise with the variable unset",
  ...gpuTest,
  async fn() {
    const out = await Deno.makeTempDir();
    try {
      const flags = [
        "--steps",
        "1",
        "--batch",
        "1",
        "--seq",
        "8",
        "--eval-batches",
        "1",
        "--sources",
        "sotu",
      ];
      const run = await withoutRuntimeDir([...TRAIN_RUN, ...flags, "--out", out]);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /saved /);
      assert.doesNotMatch(run.stdout + run.stderr, NOISE);
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
});

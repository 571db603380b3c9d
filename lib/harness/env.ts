/**
 * The environment recorded next to every benchmark result: adapter, Deno version, git commit, date,
 * OS/arch and CPU count. Timings on a fallback (software) adapter are CPU timings and are labelled so.
 *
 * @module
 */

import type { AdapterDescription } from "../gpu/device.ts";

/** Where and with what a result was measured. */
export interface Environment {
  /** The WebGPU adapter the results ran on. */
  adapter: AdapterDescription;
  /** `Deno.version`: deno, v8 and typescript versions. */
  deno: { deno: string; v8: string; typescript: string };
  /** Short commit hash, with `-dirty` when the tree has uncommitted changes; `unknown` without git. */
  gitCommit: string;
  /** When the environment was recorded, ISO 8601. */
  date: string;
  /** `Deno.build.os`, e.g. `linux`. */
  os: string;
  /** `Deno.build.arch`, e.g. `x86_64`. */
  arch: string;
  /** Logical CPUs (`navigator.hardwareConcurrency`). */
  cpuCount: number;
}

/** Options of {@link recordEnvironment}. */
export interface RecordEnvironmentOptions {
  /** Directory whose git commit is recorded; the current directory by default. */
  cwd?: string;
  /** The git executable; `git` by default (the bench is granted `--allow-run=git`). */
  git?: string;
}

/**
 * Records the environment of a run on `adapter`.
 *
 * @example Record the environment of the current process
 * ```ts
 * import assert from "node:assert/strict";
 * import { requestGpu } from "../gpu/device.ts";
 *
 * const gpu = await requestGpu();
 * const env = await recordEnvironment(gpu.adapter);
 * assert.equal(env.adapter.isFallbackAdapter, gpu.adapter.isFallbackAdapter);
 * gpu.device.destroy();
 * ```
 */
export async function recordEnvironment(
  adapter: AdapterDescription,
  options: RecordEnvironmentOptions = {},
): Promise<Environment> {
  return {
    adapter: { ...adapter },
    deno: { deno: Deno.version.deno, v8: Deno.version.v8, typescript: Deno.version.typescript },
    gitCommit: await gitCommit(options.git ?? "git", options.cwd),
    date: new Date().toISOString(),
    os: Deno.build.os,
    arch: Deno.build.arch,
    cpuCount: navigator.hardwareConcurrency,
  };
}

/**
 * The short commit of `cwd` with `-dirty` when `git status --porcelain` lists changes, or `unknown`
 * when git is missing, not permitted, or `cwd` is not in a repository.
 */
export async function gitCommit(git = "git", cwd?: string): Promise<string> {
  const head = await runGit(git, ["rev-parse", "--short", "HEAD"], cwd);
  if (head === undefined || head === "") return "unknown";
  const status = await runGit(git, ["status", "--porcelain"], cwd);
  return status ? `${head}-dirty` : head;
}

async function runGit(git: string, args: string[], cwd?: string): Promise<string | undefined> {
  try {
    const output = await new Deno.Command(git, { args, cwd, stdout: "piped", stderr: "null" }).output();
    if (!output.success) return undefined;
    return new TextDecoder().decode(output.stdout).trim();
  } catch {
    return undefined;
  }
}

/** Vendor and description, e.g. `65541: llvmpipe (LLVM 15.0.6, 256 bits)`. */
export function adapterName(adapter: AdapterDescription): string {
  return adapter.vendor ? `${adapter.vendor}: ${adapter.description}` : adapter.description;
}

/** One line for logs: {@link adapterName}, plus a software-adapter label when it is a fallback adapter. */
export function describeAdapter(adapter: AdapterDescription): string {
  const kind = adapter.isFallbackAdapter ? " (software adapter: timings are CPU timings)" : "";
  return `${adapterName(adapter)}${kind}`;
}

/** Running the project's commands in a subprocess, with the permissions their `deno task` grants. */

const path = (file: string) => new URL(`../${file}`, import.meta.url).pathname;

/** `deno task bench`. */
export const BENCH_RUN = [
  "run",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-run=git,python3",
  path("benchmarks/run.ts"),
];
/** `deno task report`. */
export const REPORT_RUN = [
  "run",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  path("benchmarks/report.ts"),
];
/** `deno task train`. */
export const TRAIN_RUN = ["run", "--allow-read", "--allow-write", "--allow-env", path("lib/cli/train.ts")];

/** Runs `deno ARGS` with no stdin; returns its exit code and output. */
export async function deno(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = await new Deno.Command(Deno.execPath(), { args, stdin: "null" }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: output.code, stdout: decode(output.stdout), stderr: decode(output.stderr) };
}

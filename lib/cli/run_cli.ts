/**
 * Runs a command-line entry point: exits with its status, and turns the errors a user can fix (no GPU,
 * bad flags, malformed files, divergence) into one `error:` line instead of a stack trace.
 *
 * @module
 */

import { parseArgs, type ParseArgsConfig } from "node:util";

/** Whether `args` ask for help (`--help` or `-h`, before any `--`). */
export function wantsHelp(args: readonly string[]): boolean {
  const end = args.indexOf("--");
  return (end < 0 ? args : args.slice(0, end)).some((arg) => arg === "--help" || arg === "-h");
}

/**
 * Runs `main(Deno.args)` and exits with its status; with `usage`, `--help` or `-h` prints it and exits 0
 * instead, before anything else runs.
 */
export async function runCli(main: (args: string[]) => Promise<number>, usage?: string): Promise<never> {
  if (usage !== undefined && wantsHelp(Deno.args)) {
    console.log(usage);
    Deno.exit(0);
  }
  try {
    Deno.exit(await main(Deno.args));
  } catch (error) {
    const known = error instanceof Error &&
      (error.name !== "Error" || error instanceof RangeError || error instanceof SyntaxError ||
        error instanceof TypeError || error instanceof Deno.errors.NotFound);
    if (!known) throw error;
    console.error(`error: ${(error as Error).message}`);
    Deno.exit(1);
  }
}

/** What a numeric flag accepts. */
export interface NumberRule {
  /** Whole numbers only. */
  integer?: boolean;
  /** The smallest value allowed. */
  min?: number;
  /** A bound the value must be above (a learning rate above 0). */
  above?: number;
}

function describeRule(rule: NumberRule): string {
  const kind = rule.integer ? "an integer" : "a number";
  if (rule.min !== undefined) return `${kind} of at least ${rule.min}`;
  return rule.above === undefined ? kind : `${kind} above ${rule.above}`;
}

/** Parses a numeric flag, naming it in the error. */
export function numberFlag(name: string, value: string, rule: NumberRule = {}): number {
  const n = Number(value);
  const fits = Number.isFinite(n) && (!rule.integer || Number.isInteger(n)) &&
    (rule.min === undefined || n >= rule.min) && (rule.above === undefined || n > rule.above);
  if (value.trim() === "" || !fits) {
    throw new RangeError(`Cannot use --${name} "${value}": expected ${describeRule(rule)}`);
  }
  return n;
}

/** Parses an optional comma-separated list of numbers (`--ranks 8,256`), naming the flag in errors. */
export function numberList(
  name: string,
  value: string | undefined,
  rule: NumberRule = {},
): number[] | undefined {
  return value === undefined ? undefined : value.split(",").map((part) => numberFlag(name, part, rule));
}

/**
 * `parseArgs` of `node:util`, except that a value starting with "-" (`--lr -1`, which reads as a flag) is
 * refused with an error saying to write it with "=".
 */
export function parseCliArgs<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (error) {
    if ((error as { code?: string }).code !== "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") throw error;
    const args = config.args ?? [];
    const at = args.findIndex((arg, i) =>
      arg.startsWith("--") && config.options?.[arg.slice(2)]?.type === "string" &&
      (args[i + 1]?.startsWith("-") ?? false)
    );
    if (at < 0) throw error;
    const flag = args[at]!, value = args[at + 1]!;
    throw new RangeError(
      `Cannot read ${flag} "${value}": a value starting with "-" reads as a flag; write it with "=", as ` +
        `${flag}=${value}`,
    );
  }
}

/**
 * Checks, before any work, that results can be saved to `dir`: a writable folder (created if absent).
 *
 * @throws {RangeError} naming the flag, when `dir` is a file or cannot be written.
 */
export async function checkWritableDir(flag: string, dir: string): Promise<void> {
  try {
    await Deno.mkdir(dir, { recursive: true });
    await Deno.remove(await Deno.makeTempFile({ dir, prefix: ".write-check-" }));
  } catch (error) {
    const unwritable = [Deno.errors.AlreadyExists, Deno.errors.NotADirectory, Deno.errors.PermissionDenied];
    if (!unwritable.some((kind) => error instanceof kind)) throw error;
    throw new RangeError(
      `Cannot save to --${flag} "${dir}": it is a file or a folder that cannot be written ` +
        `(${(error as Error).message}); pick a writable folder`,
    );
  }
}

/**
 * Runs a command-line entry point: exits with its status, and turns the errors a user can fix (no GPU,
 * bad flags, malformed files, divergence) into one `error:` line instead of a stack trace.
 *
 * @module
 */

/** Runs `main(Deno.args)` and exits with its status. */
export async function runCli(main: (args: string[]) => Promise<number>): Promise<never> {
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

/** Parses a numeric flag, naming it in the error. */
export function numberFlag(name: string, value: string, integer = false): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || (integer && !Number.isInteger(n))) {
    throw new RangeError(`Cannot use --${name} "${value}": expected ${integer ? "an integer" : "a number"}`);
  }
  return n;
}

/** Parses an optional comma-separated list of numbers (`--ranks 8,256`), naming the flag in errors. */
export function numberList(name: string, value: string | undefined, integer = false): number[] | undefined {
  return value === undefined ? undefined : value.split(",").map((part) => numberFlag(name, part, integer));
}

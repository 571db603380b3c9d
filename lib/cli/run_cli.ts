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

/**
 * A fixed environment of a run on a software adapter (llvmpipe on 2 CPU cores), for tests of report sections
 * and result files that need one but do not depend on its values.
 *
 * @module
 */

import type { Environment } from "../lib/harness/env.ts";

/** A software adapter's environment with fixed versions, commit and date. */
export const SOFTWARE_ENVIRONMENT: Environment = {
  adapter: { vendor: "mesa", architecture: "", description: "llvmpipe", isFallbackAdapter: true },
  deno: { deno: "2.9.6", v8: "14.0", typescript: "5.9" },
  gitCommit: "unknown",
  date: "2026-01-01T00:00:00.000Z",
  os: "linux",
  arch: "x86_64",
  cpuCount: 2,
};

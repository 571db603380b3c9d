/**
 * The GPU context tests share. A run with no adapter fails with the message that says how to get one
 * (a software adapter is always obtainable through Mesa), so GPU tests are never silently skipped.
 *
 * @module
 */

import { type Gpu, requestGpu } from "../lib/gpu/device.ts";

let shared: Promise<Gpu> | undefined;

/** One device per test file, created on first use. */
export function testGpu(): Promise<Gpu> {
  shared ??= requestGpu();
  return shared;
}

/** Test options that let a test keep the device (its pipeline cache) across tests of one file. */
export const gpuTest = { sanitizeResources: false, sanitizeOps: false } as const;

/**
 * Full fine-tuning (spec baselines §1): every base tensor trains and no layer is wrapped, so there is no rank
 * and nothing to merge. Registered next to the adapters so that every suite configures it the same way.
 *
 * @module
 */

import type { AdapterMethod } from "./types.ts";

/** The `"fft"` method: trains every base tensor (`trainsBase`), wraps no layer, takes no rank. */
export const fft: AdapterMethod = {
  name: "fft",
  summary: "Full fine-tuning: every weight of the model trains",
  trainsBase: true,
  validate() {},
};

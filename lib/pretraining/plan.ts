/**
 * The plan of the pretraining suite: the (model, method) groups a preset runs, and their validation before any
 * work: a method this suite does not run, a reported seed that is the search's, a rank whose inner size
 * (MoRA's r̂) exceeds a layer are errors; a merge period that no merge fits into is a warning.
 *
 * @module
 */

import { ADAPTER_METHODS } from "../adapters/registry.ts";
import { checkFits, methodLabel, type MethodSpec } from "../experiment/setup.ts";
import { pretrainRunSize, resolvePretrainRun } from "./experiment.ts";
import type { PretrainPreset } from "./presets.ts";

/** A group of runs: one method on one model, at every seed (or every rate of the search). */
export interface PretrainGroup extends MethodSpec {
  model: string;
}

/** `lora r=22 (sharing) on reference`: a group in one label. */
export function groupKey(group: PretrainGroup): string {
  return `${methodLabel(group)} on ${group.model}`;
}

/**
 * The groups of a preset for the chosen methods (default: the preset's), per model in order.
 *
 * @throws {RangeError} naming a method the preset does not run, with the ones it does.
 */
export function plannedGroups(preset: PretrainPreset, methods = preset.methods): PretrainGroup[] {
  for (const method of methods) {
    if (!preset.methods.includes(method)) {
      throw new RangeError(
        `Cannot run method "${method}" in the pretraining suite: expected some of ${
          preset.methods.join(", ")
        } (paper Table 3 and Figures 4–5); to run it in the other suites alone, name them with --suite`,
      );
    }
  }
  return preset.models.flatMap((model) =>
    methods.map((method) => {
      if (ADAPTER_METHODS[method]?.trainsBase) return { model: model.name, method, rank: null };
      const variant = preset.variants[method];
      const options = preset.methodOptions[method];
      return {
        model: model.name,
        method,
        rank: preset.rank,
        ...variant !== undefined ? { variant } : {},
        ...options !== undefined ? { options } : {},
      };
    })
  );
}

/**
 * Throws, naming the bad entry, unless every group resolves and fits its model and the seeds are not the
 * search's; returns warnings (a merge period at or past the run's length: that method would never merge).
 */
export function validatePlan(
  preset: PretrainPreset,
  groups: readonly PretrainGroup[],
  seeds: readonly number[],
): string[] {
  if (seeds.includes(preset.searchSeed)) {
    throw new RangeError(
      `Cannot report seed ${preset.searchSeed}: it is the learning-rate search's seed; pick other seeds`,
    );
  }
  const warnings: string[] = [];
  for (const group of groups) {
    const spec = { ...group, preset: preset.name, seed: 0, lr: 1, ...pretrainRunSize(preset) };
    const resolved = resolvePretrainRun(preset, spec);
    checkFits(resolved, preset.models.find((m) => m.name === group.model)!.config);
    const period = resolved.adapter?.mergeEvery;
    if (period !== undefined && period >= preset.steps) {
      warnings.push(
        `${
          methodLabel(group)
        } merges every ${period} updates but the run has ${preset.steps}: it never merges ` +
          `and runs as its method without restarts; set a merge period below ${preset.steps}`,
      );
    }
  }
  return warnings;
}

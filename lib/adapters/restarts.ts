/**
 * Merge-and-restart training (ReLoRA, and ReMoRA for MoRA), MoRA-faithful fine-tuning variant (spec baselines
 * §7.2, spec MoRA §6): after every `mergeEvery`-th update, each adapter is merged into its base weight and
 * re-initialized (ΔW = 0 again; ReMoRA also moves to the next grouping), the whole optimizer state is reset
 * (moments and step counts, so bias correction restarts), and the learning rate restarts: the update right
 * after the merge runs at the rate the schedule had already reached, then it re-warms linearly over
 * `warmupSteps` and decays to 0 over the remaining updates. With ReLoRA's jagged cosine schedule instead, the
 * schedule itself re-warms after each cycle and the restart leaves the learning rate alone.
 *
 * @module
 */

import type { Trainer } from "../train/trainer.ts";
import { mergeIntoBase } from "./merge.ts";
import { MoraLayer } from "./mora.ts";
import type { AdapterLayer } from "./types.ts";

/** Options of {@link installMergeRestarts}. */
export interface MergeRestartOptions {
  /** Merge period in updates (T). */
  mergeEvery: number;
  /** Re-warmup after each restart (the reference's `relora_warmup_step`, default 50). */
  warmupSteps: number;
  /** Total updates: no merge happens after the last one. */
  totalSteps: number;
  /** Seed of the re-initializations (LoRA's A). */
  seed: number;
  /** ReMoRA: cycle MoRA's grouping after each merge. */
  cycleGrouping: boolean;
  /**
   * Restart the learning rate MoRA's way (true, default), or leave it to the schedule (false: with ReLoRA's
   * jagged cosine, `kind: "jagged"`, whose re-warmups are built in; spec baselines §7.3).
   */
  restartLearningRate?: boolean;
}

/** Adds the merge-and-restart hook to a trainer. */
export function installMergeRestarts(
  trainer: Trainer,
  adapters: Map<string, AdapterLayer>,
  options: MergeRestartOptions,
): void {
  trainer.afterStep.push(async (t, step) => {
    if (step % options.mergeEvery !== 0 || step >= options.totalSteps) return;
    for (const adapter of adapters.values()) {
      await mergeIntoBase(adapter);
      adapter.reinitialize(options.seed + step);
      if (options.cycleGrouping && adapter instanceof MoraLayer) adapter.advanceGrouping();
    }
    t.optimizer.reset();
    if (options.restartLearningRate ?? true) t.lr.restart(step, options.warmupSteps);
    if (options.cycleGrouping) await t.rebuild();
  });
}

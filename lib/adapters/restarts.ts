/**
 * Merge-and-restart training (ReLoRA, and ReMoRA for MoRA), MoRA-faithful fine-tuning variant (spec baselines
 * §7.2, spec MoRA §6): after every `mergeEvery`-th update, each adapter is merged into its base weight and
 * re-initialized (ΔW = 0 again; ReMoRA also moves to the next grouping), the adapters' optimizer state is reset
 * (moments and step counts, so bias correction restarts; tensors that train next to the adapters, as the
 * embeddings when pretraining from scratch, keep theirs), and the learning rate restarts: the update right
 * after the merge runs at the rate the schedule had already reached, then it re-warms linearly over
 * `warmupSteps` and decays to 0 over the remaining updates. With ReLoRA's jagged cosine schedule instead, the
 * schedule itself re-warms after each cycle and the restart leaves the learning rate alone.
 *
 * @module
 */

import type { Trainer } from "../train/trainer.ts";
import { mergeIntoBase } from "./merge.ts";
import type { AdapterConfig, AdapterLayer, AdapterMethod, MethodContext } from "./types.ts";

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
  /** Called on each adapter after its merge and re-initialization (ReMoRA moves to the next grouping). */
  afterMerge?: (adapter: AdapterLayer) => void;
  /** Rebuild the step's dispatches after a merge (when `afterMerge` changed an adapter's kernels). */
  rebuild?: boolean;
  /**
   * Restart the learning rate MoRA's way (true, default), or leave it to the schedule (false: with ReLoRA's
   * jagged cosine, `kind: "jagged"`, whose re-warmups are built in; spec baselines §7.3).
   */
  restartLearningRate?: boolean;
}

/** What one merge-and-restart did, for logs and tests. */
export interface MergeEvent {
  /** The update after which it happened. */
  step: number;
  /** Wall time of the merge, re-initialization, optimizer reset and rebuild, ms. */
  ms: number;
}

/**
 * Adds the merge-and-restart hook to a trainer; returns the list it appends each {@link MergeEvent} to.
 */
export function installMergeRestarts(
  trainer: Trainer,
  adapters: Map<string, AdapterLayer>,
  options: MergeRestartOptions,
): MergeEvent[] {
  const events: MergeEvent[] = [];
  trainer.afterStep.push(async (t, step) => {
    if (step % options.mergeEvery !== 0 || step >= options.totalSteps) return;
    // The steps queued so far finish first, so the merge's time is its own.
    await t.model.gpu.device.queue.onSubmittedWorkDone();
    const start = performance.now();
    for (const adapter of adapters.values()) {
      await mergeIntoBase(adapter);
      adapter.reinitialize(options.seed + step);
      options.afterMerge?.(adapter);
    }
    // Only the adapters' state: embeddings, norms and the LM head, trainable next to the adapters when
    // pretraining from scratch, keep theirs (spec baselines §7.3; in fine-tuning the adapters are all there is).
    const adapterTensors = new Set([...adapters.values()].flatMap((a) => a.trainable().map((x) => x.name)));
    t.optimizer.reset((tensor) => adapterTensors.has(tensor.name));
    if (options.restartLearningRate ?? true) t.lr.restart(step, options.warmupSteps);
    if (options.rebuild) await t.rebuild();
    events.push({ step, ms: performance.now() - start });
  });
  return events;
}

/**
 * The merge period a merge-restart method gets when the run does not set it: four cycles over the run, as a
 * 4,000-update fine-tune merging every 1,000 (spec baselines §7.2).
 */
export function mergeRestartDefaults(context: MethodContext): Pick<AdapterConfig, "mergeEvery"> {
  return { mergeEvery: Math.max(1, Math.round(context.totalSteps / 4)) };
}

/**
 * A method's `attach` that merges and restarts on the config's period and re-warmup; `extra` adds what the
 * method does on top (ReMoRA's next grouping and the rebuild it needs).
 */
export function mergeRestartHooks(
  extra: Pick<MergeRestartOptions, "afterMerge" | "rebuild"> = {},
): NonNullable<AdapterMethod["attach"]> {
  return (trainer, adapters, c, context) =>
    installMergeRestarts(trainer, adapters, {
      mergeEvery: c.mergeEvery!,
      warmupSteps: restartWarmupOf(c),
      totalSteps: context.totalSteps,
      seed: c.seed,
      ...extra,
    });
}

/** The re-warmup after a restart: the config's, or 5% of a cycle (the reference's 50 of 1,000), at least 1. */
export function restartWarmupOf(c: AdapterConfig): number {
  return c.restartWarmup ?? Math.max(1, Math.round(c.mergeEvery! / 20));
}

/** Throws unless the config has a positive integer merge period and a non-negative re-warmup. */
export function validateMergeRestart(c: AdapterConfig, method: string): void {
  if (!Number.isInteger(c.mergeEvery) || c.mergeEvery! < 1) {
    throw new RangeError(`Cannot use ${method} without mergeEvery: set the merge period in updates`);
  }
  if (c.restartWarmup !== undefined && !(Number.isInteger(c.restartWarmup) && c.restartWarmup >= 0)) {
    throw new RangeError(
      `Cannot use ${method} with restartWarmup ${c.restartWarmup}: use a non-negative integer of updates`,
    );
  }
}

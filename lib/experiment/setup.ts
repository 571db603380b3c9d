/**
 * The one path from a method spec to a configured training run, shared by every suite: a spec (method, rank,
 * variant, options) is resolved against the method's own defaults and validated before any work starts, then
 * set up on a model: the layers wrapped, the optimizer groups (LoRA+'s B rate) and the training hooks
 * (ReLoRA/ReMoRA merge-and-restart) ready to attach to the trainer. Nothing here knows a method by name.
 *
 * @module
 */

import { ADAPTER_METHODS, ALL_LINEAR_TARGETS, applyAdapters } from "../adapters/registry.ts";
import type { MergeEvent } from "../adapters/restarts.ts";
import type { AdapterConfig, AdapterLayer, AdapterMethod } from "../adapters/types.ts";
import type { Gpu } from "../gpu/device.ts";
import { llamaParameterShapes } from "../model/checkpoint.ts";
import type { LlamaConfig } from "../model/config.ts";
import { LlamaModel } from "../model/llama.ts";
import type { GroupConfig } from "../train/optimizer.ts";
import type { Trainer } from "../train/trainer.ts";

/** What a run trains: a registered method at a rank, its variant, and overrides of the method's defaults. */
export interface MethodSpec {
  /** Registered method name (`lib/adapters/registry.ts`). */
  method: string;
  /** Rank r; null for a method without one (full fine-tuning). */
  rank: number | null;
  /** MoRA compress/decompress variant; the method's default when omitted. */
  variant?: string;
  /** Overrides of the method's defaults: alpha, loraPlusRatio, mergeEvery, restartWarmup, freezeA. */
  options?: MethodOptions;
}

/** The adapter fields a spec may override. */
export type MethodOptions = Partial<
  Pick<AdapterConfig, "alpha" | "loraPlusRatio" | "mergeEvery" | "restartWarmup" | "freezeA">
>;

/** What the run around a method fixes: seed, input dropout (methods that apply it), length, targets. */
export interface RunSettings {
  /** Seed of the adapter initialization and dropout masks. */
  seed: number;
  /** Adapter input dropout (PEFT `lora_dropout`), for methods that apply it; default 0. */
  dropout?: number;
  /** Optimizer updates of the run (merge periods and restarts are laid out over it). */
  totalSteps: number;
  /** Modules to adapt; every projection by default (MoRA's setup). */
  targetModules?: string[];
  /**
   * Train embeddings, RMSNorm gains and the LM head next to the adapters (pretraining from scratch, paper
   * §5.3); default false (fine-tuning: only the adapters train).
   */
  trainUnadapted?: boolean;
}

/** A spec with its method and, for adapters, the complete validated config. */
export interface ResolvedMethod {
  /** The spec as given. */
  spec: MethodSpec;
  /** The registered method the spec names. */
  method: AdapterMethod;
  /** The adapter config; undefined for a method that trains the base (no layer is wrapped). */
  adapter?: AdapterConfig;
  /** The run settings the config was resolved with. */
  settings: RunSettings;
}

/** The method fields of a spec alone (a run spec or record spec carries more), absent ones left out. */
export function methodSpecOf(spec: MethodSpec): MethodSpec {
  const { method, rank, variant, options } = spec;
  return {
    method,
    rank,
    ...variant === undefined ? {} : { variant },
    ...options === undefined ? {} : { options },
  };
}

/** `LoRA r=8`, `MoRA r=8 (rotation)`, `fft`: a spec in one short label. */
export function methodLabel(spec: MethodSpec): string {
  if (spec.rank === null) return spec.method;
  const options = Object.entries(spec.options ?? {}).map(([k, v]) => `${k}=${v}`);
  const extra = [spec.variant, ...options].filter((x) => x !== undefined);
  return `${spec.method} r=${spec.rank}${extra.length > 0 ? ` (${extra.join(", ")})` : ""}`;
}

/**
 * Fills the method's defaults under the spec and validates it.
 *
 * @throws {RangeError} naming the spec and what is wrong with it, with the valid names where a name is bad.
 */
export function resolveMethod(spec: MethodSpec, settings: RunSettings): ResolvedMethod {
  const method = ADAPTER_METHODS[spec.method];
  if (!method) {
    throw new RangeError(
      `Cannot run method "${spec.method}": not registered; expected one of ${
        Object.keys(ADAPTER_METHODS).join(", ")
      }`,
    );
  }
  if (method.trainsBase) {
    if (spec.rank !== null || spec.variant !== undefined || spec.options !== undefined) {
      throw new RangeError(
        `Cannot run ${spec.method} with a rank, variant or options: it trains every weight and has none`,
      );
    }
    return { spec, method, settings };
  }
  if (spec.rank === null || !Number.isInteger(spec.rank) || spec.rank < 1) {
    throw new RangeError(`Cannot run ${spec.method} at rank ${spec.rank}: ranks are positive integers`);
  }
  const adapter: AdapterConfig = {
    method: spec.method,
    r: spec.rank,
    alpha: spec.rank,
    targetModules: settings.targetModules ?? ALL_LINEAR_TARGETS,
    seed: settings.seed,
    dropout: method.appliesDropout ? settings.dropout ?? 0 : 0,
    ...method.defaults?.(spec.rank, { totalSteps: settings.totalSteps }),
    ...spec.variant !== undefined ? { moraVariant: spec.variant } : {},
    ...spec.options,
  };
  try {
    method.validate(adapter);
  } catch (error) {
    throw new RangeError(`Cannot run ${methodLabel(spec)}: ${(error as Error).message}`);
  }
  return { spec, method, adapter, settings };
}

/**
 * Throws unless the method fits every targeted projection of `config`: its inner size (LoRA's r, MoRA's r̂)
 * at most the smaller side of each.
 */
export function checkFits(resolved: ResolvedMethod, config: LlamaConfig): void {
  const { method, adapter } = resolved;
  if (!adapter || !method.innerSize) return;
  for (const { name, shape } of llamaParameterShapes(config)) {
    if (!name.endsWith("_proj.weight")) continue;
    const [outF, inF] = shape as [number, number];
    const inner = method.innerSize(adapter, inF, outF);
    if (inner > Math.min(inF, outF)) {
      throw new RangeError(
        `Cannot run ${methodLabel(resolved.spec)}: its inner size ${inner} exceeds ${Math.min(inF, outF)}, ` +
          `the smaller side of ${name} (${outF}×${inF}); pick a smaller rank`,
      );
    }
  }
}

/** A model set up for one method: its adapters, optimizer groups and training hooks. */
export interface MethodRun {
  /** The model built from the base weights, with the method's adapters installed. */
  model: LlamaModel;
  /** Adapters by module path (empty for full fine-tuning). */
  adapters: Map<string, AdapterLayer>;
  /** AdamW group overrides (LoRA+ gives B its own rate). */
  groups: Record<string, Partial<GroupConfig>>;
  /** Trainable values. */
  trainableParams: number;
  /**
   * Installs the method's training hooks (merge-and-restart) on a trainer built for this model; returns the
   * list each merge is recorded in (empty for methods without hooks).
   */
  attach(trainer: Trainer): MergeEvent[];
  /** Frees the adapters and the model. */
  destroy(): void;
}

/** Builds the model from base weights and sets up the resolved method on it. */
export async function setupMethod(
  gpu: Gpu,
  base: { config: LlamaConfig; weights: Map<string, Float32Array> },
  resolved: ResolvedMethod,
): Promise<MethodRun> {
  const { method, adapter } = resolved;
  const model = LlamaModel.create(gpu, base.config, base.weights, {
    trainBase: method.trainsBase ?? false,
    trainUnadapted: resolved.settings.trainUnadapted,
  });
  let adapters = new Map<string, AdapterLayer>();
  try {
    if (adapter) adapters = await applyAdapters(model, adapter);
  } catch (error) {
    model.destroy();
    throw error;
  }
  return {
    model,
    adapters,
    groups: adapter ? method.groups?.(adapter) ?? {} : {},
    trainableParams: model.trainable().reduce((n, t) => n + t.value.size, 0),
    attach(trainer) {
      if (!adapter || !method.attach) return [];
      return method.attach(trainer, adapters, adapter, { totalSteps: resolved.settings.totalSteps });
    },
    destroy() {
      for (const a of adapters.values()) a.destroy();
      model.destroy();
    },
  };
}

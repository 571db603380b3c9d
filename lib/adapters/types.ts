/**
 * The adapter contract. An adapter wraps a frozen base linear layer (PEFT's pattern), adds its contribution
 * in the forward and backward passes, lists its trainable tensors, and knows its ΔW so it can merge itself
 * into the base weight. One method per file; `registry.ts` lists them.
 *
 * @module
 */

import type { Gpu } from "../gpu/device.ts";
import type { ScratchPool } from "../gpu/scratch.ts";
import type { Tensor } from "../gpu/tensor.ts";
import type { DenseLinear, LinearLayer } from "../model/linear.ts";
import type { Trainer } from "../train/trainer.ts";
import type { MergeEvent } from "./restarts.ts";
import { type DropoutMask, dropoutStream } from "../ops/dropout.ts";

/** Configuration shared by every adapter method (PEFT `LoraConfig` fields plus method options). */
export interface AdapterConfig {
  /** Method name as registered, e.g. `"lora"`, `"mora"`. */
  method: string;
  /** Rank r (MoRA derives its square size r̂ from it). */
  r: number;
  /** LoRA scale numerator: s = alpha / r (ignored by MoRA). */
  alpha: number;
  /** Module names to adapt (PEFT `target_modules`: a module matches when its path ends in `.<name>`). */
  targetModules: string[];
  /** Seed of the adapter initialization (and of the dropout masks). */
  seed: number;
  /** PEFT `lora_dropout`: dropout probability p in [0, 1) on the adapter input in training; default 0. */
  dropout?: number;
  /** LoRA+: learning-rate multiplier of B (λ). */
  loraPlusRatio?: number;
  /** AsyLoRA: freeze A (original AsyLoRA) instead of training it (MoRA-faithful default false). */
  freezeA?: boolean;
  /** MoRA compress/decompress variant. */
  moraVariant?: string;
  /** ReLoRA/ReMoRA: merge and restart every this many updates. */
  mergeEvery?: number;
  /** ReLoRA/ReMoRA: learning-rate re-warmup after each restart, in updates. */
  restartWarmup?: number;
}

/** What a run tells a method when it fills its defaults and attaches its training hooks. */
export interface MethodContext {
  /** Optimizer updates of the whole run. */
  totalSteps: number;
}

/** An adapter around one base layer. */
export interface AdapterLayer extends LinearLayer {
  /** The wrapped base layer (frozen). */
  readonly base: DenseLinear;
  /** The adapter tensors by PEFT suffix, e.g. `lora_A.weight` (M is saved under both A and B for MoRA). */
  peftTensors(): Record<string, Tensor>;
  /** ΔW (outFeatures, inFeatures) in float64 from the current adapter tensors: merged W = W0 + ΔW. */
  deltaWeight(): Promise<Float64Array>;
  /** Re-initializes the adapter so that ΔW = 0 again (ReLoRA/ReMoRA after a merge). */
  reinitialize(seed: number): void;
  /** Frees the adapter's tensors (not the base weight). */
  destroy(): void;
}

/**
 * A registered training method: full fine-tuning, or an adapter that wraps frozen base layers. The method
 * holds everything that is particular to it (defaults, validation, layers, optimizer groups, training hooks),
 * so the one setup path (`lib/experiment/setup.ts`) needs no per-method branch.
 */
export interface AdapterMethod {
  /**
   * The user-facing key: `--method`, journal ids, report labels and PEFT files use it, and the registry is
   * keyed by it (`"lora"`, `"lora+"`, `"mora"`, …).
   */
  name: string;
  /** One line: what it is and where it comes from. */
  summary: string;
  /** Full fine-tuning: every base tensor trains, no layer is wrapped and there is no rank. */
  trainsBase?: boolean;
  /** This method's defaults at rank r (α, λ, variant, merge period), under the config's own fields. */
  defaults?(r: number, context: MethodContext): Partial<AdapterConfig>;
  /** Throws a RangeError naming the bad field. */
  validate(config: AdapterConfig): void;
  /**
   * The size a base layer must have on both sides for this config (LoRA's r, MoRA's r̂); a rank that needs
   * more than min(in, out) is refused before any work starts.
   */
  innerSize?(config: AdapterConfig, inFeatures: number, outFeatures: number): number;
  /**
   * Wraps a frozen base layer; `scratch` holds buffers shared by all layers for values that live within one
   * op; `dropoutStep` is the model's step counter that input dropout draws its masks from
   * ({@link adapterDropout}). DoRA reads the base weight back, hence the promise.
   */
  wrap?(
    gpu: Gpu,
    base: DenseLinear,
    config: AdapterConfig,
    scratch: ScratchPool,
    dropoutStep: Tensor,
  ): AdapterLayer | Promise<AdapterLayer>;
  /** Whether `wrap` applies `config.dropout`; the registry rejects dropout > 0 for methods without it. */
  appliesDropout?: boolean;
  /** Optimizer group overrides (LoRA+ gives `lora_B` a larger learning rate). */
  groups?(config: AdapterConfig): Record<string, { lrScale?: number; weightDecay?: number }>;
  /**
   * Hooks into the trainer (ReLoRA/ReMoRA: merge and restart every `mergeEvery` updates); returns the list
   * each merge is recorded in.
   */
  attach?(
    trainer: Trainer,
    adapters: Map<string, AdapterLayer>,
    config: AdapterConfig,
    context: MethodContext,
  ): MergeEvent[];
}

/**
 * The input-dropout mask source of one adapted layer, or undefined when `config.dropout` is 0 (no dropout
 * dispatches at all). Masks depend on the config seed, the layer's module path and the training step.
 */
export function adapterDropout(
  config: AdapterConfig,
  layerName: string,
  dropoutStep: Tensor,
): DropoutMask | undefined {
  const p = config.dropout ?? 0;
  if (p === 0) return undefined;
  return { p, step: dropoutStep, stream: dropoutStream(config.seed, layerName) };
}

/** Whether a module path is targeted: equal to, or ending in `.<name>` (PEFT list matching). */
export function isTargeted(path: string, targetModules: readonly string[]): boolean {
  return targetModules.some((name) => path === name || path.endsWith(`.${name}`));
}

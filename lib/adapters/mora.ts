/**
 * MoRA (Jiang et al. 2024): one trainable square matrix `M (r̂, r̂)` between a parameter-free compression
 * of the input and decompression to the output: `y = x·W0ᵀ + f_decomp(M·f_comp(x))` (paper Eq. 3), with
 * r̂ from r as the reference code computes it, M initialized to zero, no scaling factor. The variants
 * (truncation Eq. 4, sharing Eq. 6, decouple Eq. 8, rotation Eq. 9, and ReMoRA's extra groupings) are in
 * `lib/ops/mora/variants.ts`, with the op's CPU reference, kernels and launchers beside it in `lib/ops/mora/`. ΔW is never
 * materialized in training, and no activation is kept per layer: two scratch buffers shared by all layers.
 *
 * Backward: recompute c = f_comp(x), fold ∂y through the decompression (`dz`), `∂M = dzᵀ·c`, `dc = dz·M`,
 * scatter `dc` back through the compression into ∂x (added to the base layer's `G·W0`). Only the chunks
 * that reach the output are computed (exact; derivation in `lib/ops/mora/operators.ts`).
 *
 * ReMoRA (`remora`): every `mergeEvery` updates, M is merged into W0, reset to zero, and the grouping moves
 * one step along {@link REMORA_CYCLE} (reference types 1→2→3→4→1); the optimizer state of M is reset.
 *
 * @module
 */

import type { Gpu } from "../gpu/device.ts";
import type { Dispatch } from "../gpu/kernel.ts";
import type { ScratchPool } from "../gpu/scratch.ts";
import { createTensor, readTensor, type Tensor, writeTensor } from "../gpu/tensor.ts";
import type { DenseLinear, LinearBackwardArgs, LinearForwardArgs, TrainableTensor } from "../model/linear.ts";
import { applyDropout, type DropoutMask } from "../ops/dropout.ts";
import { fillTensor } from "../ops/elementwise.ts";
import type { MoraDims } from "../ops/mora/operators.ts";
import { moraBackward, moraForward, type MoraScratch, moraScratch } from "../ops/mora/adapter_path.ts";
import { moraDeltaWeightCpu } from "../ops/mora/reference.ts";
import {
  MORA_VARIANTS,
  moraRank,
  type MoraSharingVariant,
  type MoraVariant,
  REMORA_CYCLE,
} from "../ops/mora/variants.ts";
import { type AdapterConfig, adapterDropout, type AdapterLayer, type AdapterMethod } from "./types.ts";
import { mergeRestartDefaults, mergeRestartHooks, validateMergeRestart } from "./restarts.ts";
import { WrappedLinear } from "./wrapped_linear.ts";

/** A MoRA adapter around a frozen base layer. */
export class MoraLayer extends WrappedLinear implements AdapterLayer {
  readonly m: Tensor;
  readonly gradM: Tensor;
  readonly rank: number;

  /**
   * @param scratch shared buffers: the compressed input and z live only within one forward or backward
   * (the backward recomputes the compression, a cheap gather, instead of keeping it per layer)
   * @param variant compress/decompress pair
   * @param r the LoRA rank r̂ is derived from
   * @param dropout input dropout in training (spec §4: applied to x before compression); undefined: none
   */
  constructor(
    readonly gpu: Gpu,
    base: DenseLinear,
    readonly scratch: ScratchPool,
    public variant: MoraVariant,
    r: number,
    readonly dropout?: DropoutMask,
  ) {
    super(base);
    this.rank = moraRank(base.inFeatures, base.outFeatures, r, variant);
    this.m = createTensor(gpu, `${base.name}.mora.M`, [this.rank, this.rank]);
    this.gradM = createTensor(gpu, `grad.${base.name}.mora.M`, [this.rank, this.rank]);
  }

  #dims(rows: number): MoraDims {
    return { rows, inF: this.inFeatures, outF: this.outFeatures, R: this.rank, variant: this.variant };
  }

  /** The sizes and the shared scratch buffers of `rows` rows, from the layers' pool. */
  #scratch(rows: number): MoraDims & MoraScratch {
    const dims = this.#dims(rows);
    return { ...dims, ...moraScratch(dims, (role, shape) => this.scratch.get(`mora.${role}`, shape)) };
  }

  /** The dropped input D(x) (rows, in) in a shared buffer, when training with dropout. */
  async #droppedInput(gpu: Gpu, x: Tensor, rows: number): Promise<{ input: Tensor; plan: Dispatch[] }> {
    const input = this.scratch.get("adapter.dropped_input", [rows, this.inFeatures]);
    return { input, plan: [await applyDropout(gpu, { out: input, x, mask: this.dropout! })] };
  }

  /** `out = x·W0ᵀ + f_decomp(f_comp(X̃)·Mᵀ)`, X̃ = D(x) in training with dropout, else x. */
  async forward(gpu: Gpu, { out, x, rows, training }: LinearForwardArgs): Promise<Dispatch[]> {
    const base = await this.base.forward(gpu, { out, x, rows });
    if (!(training && this.dropout)) {
      return [...base, ...await moraForward(gpu, { ...this.#scratch(rows), out, x, M: this.m })];
    }
    const dropped = await this.#droppedInput(gpu, x, rows);
    return [
      ...base,
      ...dropped.plan,
      ...await moraForward(gpu, { ...this.#scratch(rows), out, x: dropped.input, M: this.m }),
    ];
  }

  /**
   * ∂M (overwritten) and `dx (+)= G·W0 + D(Cᵀ·(Dᵀ·G)·M)` (D only in training with dropout: the adapter part
   * of ∂x goes through the same mask, spec baselines §4).
   */
  async backward(
    gpu: Gpu,
    { dx, accumulateDx, dy, x, rows, training }: LinearBackwardArgs,
  ): Promise<Dispatch[]> {
    const base = await this.base.backward(gpu, { dx, accumulateDx, dy, x, rows });
    const adapter = {
      ...this.#scratch(rows),
      gradM: this.gradM,
      dout: dy,
      M: this.m,
    };
    if (!(training && this.dropout)) return [...base, ...await moraBackward(gpu, { ...adapter, dx, x })];
    const dropped = await this.#droppedInput(gpu, x, rows);
    const droppedGrad = dx ? this.scratch.get("adapter.dropped_grad", [rows, this.inFeatures]) : undefined;
    const plan = [
      ...base,
      ...dropped.plan,
      ...droppedGrad ? [await fillTensor(gpu, { out: droppedGrad, value: 0 })] : [],
      ...await moraBackward(gpu, { ...adapter, dx: droppedGrad, x: dropped.input }),
    ];
    if (dx) {
      plan.push(await applyDropout(gpu, { out: dx, x: droppedGrad!, mask: this.dropout, accumulate: true }));
    }
    return plan;
  }

  trainable(): TrainableTensor[] {
    // Named as peft-mora saves M (under lora_A, and again under lora_B).
    return [{ name: `${this.name}.lora_A.weight`, value: this.m, grad: this.gradM, group: "mora" }];
  }

  /** M under both PEFT names, as peft-mora saves it (`lora_B` is the same module as `lora_A`). */
  peftTensors(): Record<string, Tensor> {
    return { "lora_A.weight": this.m, "lora_B.weight": this.m };
  }

  async deltaWeight(): Promise<Float64Array> {
    const m = Float64Array.from(await readTensor(this.m));
    return moraDeltaWeightCpu(this.inFeatures, this.outFeatures, m, this.rank, this.variant);
  }

  /** M = 0 (MoRA's init; the gradient is non-zero at M = 0, so training starts at once). */
  reinitialize(_seed: number): void {
    writeTensor(this.m, new Float32Array(this.m.size));
  }

  /** ReMoRA: the next grouping of the cycle (only the sharing variants cycle). */
  advanceGrouping(): void {
    const next = REMORA_CYCLE[this.variant as MoraSharingVariant];
    if (!next) {
      throw new RangeError(
        `Cannot cycle MoRA variant "${this.variant}": ReMoRA cycles sharing variants only`,
      );
    }
    this.variant = next;
  }

  destroy(): void {
    this.m.destroy();
    this.gradM.destroy();
  }
}

/** The MoRA variant of a config (set by the method's defaults, or by the run). */
export function moraVariantOf(c: AdapterConfig): MoraVariant {
  const variant = c.moraVariant;
  if (!(MORA_VARIANTS as readonly string[]).includes(variant as string)) {
    throw new RangeError(`Cannot use MoRA variant "${variant}": expected one of ${MORA_VARIANTS.join(", ")}`);
  }
  return variant as MoraVariant;
}

function validateMora(c: AdapterConfig): void {
  if (!Number.isInteger(c.r) || c.r < 1) {
    throw new RangeError(`Cannot use MoRA rank ${c.r}: r must be a positive integer`);
  }
  moraVariantOf(c);
}

/** What MoRA and ReMoRA share: r̂ as the inner size, the layer, input dropout. */
const MORA_FAMILY: Pick<AdapterMethod, "innerSize" | "wrap" | "appliesDropout"> = {
  innerSize: (c, inF, outF) => moraRank(inF, outF, c.r, moraVariantOf(c)),
  wrap: (gpu, base, c, scratch, dropoutStep) =>
    new MoraLayer(gpu, base, scratch, moraVariantOf(c), c.r, adapterDropout(c, base.name, dropoutStep)),
  appliesDropout: true,
};

/**
 * The `"mora"` method: each targeted layer becomes a {@link MoraLayer} of square size r̂ from r; the variant
 * defaults to rotation below r = 64 and sharing from 64 up.
 */
export const mora: AdapterMethod = {
  name: "mora",
  summary: "MoRA (Jiang et al. 2024): square M between compression and decompression, rank up to r̂",
  ...MORA_FAMILY,
  // The authors' README: rotation (type 6) for small ranks, sharing (type 1) for large ones; 64 is the line.
  defaults: (r) => ({ moraVariant: r < 64 ? "rotation" : "sharing" }),
  validate: validateMora,
};

/** ReMoRA: MoRA with merge-and-reset every `mergeEvery` updates, cycling the sharing groupings. */
export const remora: AdapterMethod = {
  name: "remora",
  summary:
    "ReMoRA (Jiang et al. 2024 §5.3): MoRA merged into W every T steps, M reset, grouping cycled 1→2→3→4",
  ...MORA_FAMILY,
  // Starts at type 1 (sharing, Eq. 6), the reference's default (spec MoRA §6).
  defaults: (_r, context) => ({ moraVariant: "sharing", ...mergeRestartDefaults(context) }),
  validate(c) {
    validateMora(c);
    if (!REMORA_CYCLE[c.moraVariant as MoraSharingVariant]) {
      throw new RangeError(`Cannot use ReMoRA with variant "${c.moraVariant}": use a sharing variant`);
    }
    validateMergeRestart(c, "ReMoRA");
  },
  attach: mergeRestartHooks({
    afterMerge: (adapter) => (adapter as MoraLayer).advanceGrouping(),
    rebuild: true,
  }),
};

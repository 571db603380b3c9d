/**
 * MoRA (Jiang et al. 2024): one trainable square matrix `M (r̂, r̂)` between a parameter-free compression
 * of the input and decompression to the output: `y = x·W0ᵀ + f_decomp(M·f_comp(x))` (paper Eq. 3), with
 * r̂ from r as the reference code computes it, M initialized to zero, no scaling factor. The variants
 * (truncation Eq. 4, sharing Eq. 6, decouple Eq. 8, rotation Eq. 9, and ReMoRA's extra groupings) are in
 * `mora_variants.ts`; the kernels in `lib/ops/mora.ts` and `lib/ops/mora_adapter.ts`. ΔW is never
 * materialized in training, and no activation is kept per layer: two scratch buffers shared by all layers.
 *
 * Backward: recompute c = f_comp(x), fold ∂y through the decompression (`dz`), `∂M = dzᵀ·c`, `dc = dz·M`,
 * scatter `dc` back through the compression into ∂x (added to the base layer's `G·W0`). Only the chunks
 * that reach the output are computed (exact; derivation in `lib/ops/mora.ts`).
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
import type { MoraDims } from "../ops/mora.ts";
import { moraBackward, moraForward, type MoraScratch, moraScratch } from "../ops/mora_adapter.ts";
import { moraDeltaWeightCpu } from "./mora_operators.ts";
import {
  MORA_VARIANTS,
  moraRank,
  type MoraSharingVariant,
  type MoraVariant,
  REMORA_CYCLE,
} from "./mora_variants.ts";
import type { AdapterConfig, AdapterLayer, AdapterMethod } from "./types.ts";

/** A MoRA adapter around a frozen base layer. */
export class MoraLayer implements AdapterLayer {
  readonly m: Tensor;
  readonly gradM: Tensor;
  readonly rank: number;

  /**
   * @param scratch shared buffers: the compressed input and z live only within one forward or backward
   * (the backward recomputes the compression, a cheap gather, instead of keeping it per layer)
   * @param variant compress/decompress pair
   * @param r the LoRA rank r̂ is derived from
   */
  constructor(
    readonly gpu: Gpu,
    readonly base: DenseLinear,
    readonly scratch: ScratchPool,
    public variant: MoraVariant,
    r: number,
  ) {
    this.rank = moraRank(base.inFeatures, base.outFeatures, r, variant);
    this.m = createTensor(gpu, `${base.name}.mora.M`, [this.rank, this.rank]);
    this.gradM = createTensor(gpu, `grad.${base.name}.mora.M`, [this.rank, this.rank]);
  }

  get name(): string {
    return this.base.name;
  }
  get inFeatures(): number {
    return this.base.inFeatures;
  }
  get outFeatures(): number {
    return this.base.outFeatures;
  }
  get weight(): Tensor {
    return this.base.weight;
  }

  #dims(rows: number): MoraDims {
    return { rows, inF: this.inFeatures, outF: this.outFeatures, R: this.rank, variant: this.variant };
  }

  /** The sizes and the shared scratch buffers of `rows` rows, from the layers' pool. */
  #scratch(rows: number): MoraDims & MoraScratch {
    const dims = this.#dims(rows);
    return { ...dims, ...moraScratch(dims, (role, shape) => this.scratch.get(`mora.${role}`, shape)) };
  }

  /** `out = x·W0ᵀ + f_decomp(f_comp(x)·Mᵀ)`. */
  async forward(gpu: Gpu, { out, x, rows }: LinearForwardArgs): Promise<Dispatch[]> {
    return [
      ...await this.base.forward(gpu, { out, x, rows }),
      ...await moraForward(gpu, { ...this.#scratch(rows), out, x, M: this.m }),
    ];
  }

  /** ∂M (overwritten) and `dx (+)= G·W0 + Cᵀ·(Dᵀ·G)·M`. */
  async backward(gpu: Gpu, { dx, accumulateDx, dy, x, rows }: LinearBackwardArgs): Promise<Dispatch[]> {
    return [
      ...await this.base.backward(gpu, { dx, accumulateDx, dy, x, rows }),
      ...await moraBackward(gpu, {
        ...this.#scratch(rows),
        dx,
        gradM: this.gradM,
        dout: dy,
        x,
        M: this.m,
        matmulScratch: this.scratch,
      }),
    ];
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

/** The MoRA variant of a config (default: rotation below r = 64, sharing from r = 64, as the README advises). */
export function moraVariantOf(c: AdapterConfig): MoraVariant {
  const variant = c.moraVariant ?? (c.r < 64 ? "rotation" : "sharing");
  if (!(MORA_VARIANTS as readonly string[]).includes(variant)) {
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

/** MoRA. */
export const mora: AdapterMethod = {
  name: "mora",
  summary: "MoRA (Jiang et al. 2024): square M between compression and decompression, rank up to r̂",
  validate: validateMora,
  wrap: (gpu, base, c, scratch) => new MoraLayer(gpu, base, scratch, moraVariantOf(c), c.r),
};

/** ReMoRA: MoRA with merge-and-reset every `mergeEvery` updates, cycling the sharing groupings. */
export const remora: AdapterMethod = {
  name: "remora",
  summary:
    "ReMoRA (Jiang et al. 2024 §5.3): MoRA merged into W every T steps, M reset, grouping cycled 1→2→3→4",
  validate(c) {
    validateMora({ ...c, moraVariant: c.moraVariant ?? "sharing" });
    if (!REMORA_CYCLE[(c.moraVariant ?? "sharing") as MoraSharingVariant]) {
      throw new RangeError(`Cannot use ReMoRA with variant "${c.moraVariant}": use a sharing variant`);
    }
    if (!Number.isInteger(c.mergeEvery) || c.mergeEvery! < 1) {
      throw new RangeError(`Cannot use ReMoRA without mergeEvery: set the merge period in updates`);
    }
  },
  wrap: (gpu, base, c, scratch) =>
    new MoraLayer(gpu, base, scratch, moraVariantOf({ ...c, moraVariant: c.moraVariant ?? "sharing" }), c.r),
};

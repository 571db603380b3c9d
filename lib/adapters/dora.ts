/**
 * DoRA (Liu et al. 2024) as PEFT implements it (spec baselines §8). Without dropout (p = 0 or evaluation):
 * `y = U·diag(c)`, `U = x·W0ᵀ + s·x·Aᵀ·Bᵀ`, `c = m ⊘ n`, `n = rownorm(W0 + s·B·A)` treated as a constant
 * (PEFT detaches it, per §4.3 of the DoRA paper). `m` starts at rownorm(W0), so the adapter starts as the identity.
 * Backward with the detached norm and Ĝ = G·diag(c): `∂m_i = Σ_t G_ti·U_ti / n_i`, and A, B, x get LoRA's
 * gradients with G replaced by Ĝ.
 *
 * With input dropout in training, X̃ = D(x), the spec's training form
 * `y = x·W0ᵀ + (X̃·W0ᵀ)·diag(c−1) + s·(X̃·Aᵀ·Bᵀ)·diag(c)` is computed as `U·diag(c) + (x − X̃)·W0ᵀ` with
 * `U = X̃·W0ᵀ + s·X̃·Aᵀ·Bᵀ` (two full matmuls, like the spec's). Backward: ∂m as above with this U; ∂A, ∂B are
 * LoRA's on X̃ with Ĝ; `∂x = G·W0 + D(G·diag(c−1)·W0 + ∂H·A)`, ∂H = s·Ĝ·B. X̃ is recomputed in the backward from
 * the mask's hash, never kept.
 *
 * Merge: `W' = diag(m ⊘ n*)·(W0 + s·B·A)`. The norm is recomputed every step in one kernel that rebuilds B·A
 * row by row (never stored).
 *
 * @module
 */

import magnitudeGradCode from "../../kernels/dora_magnitude_grad.wgsl" with { type: "text" };
import normCode from "../../kernels/dora_norm.wgsl" with { type: "text" };
import scaleCode from "../../kernels/dora_scale_columns.wgsl" with { type: "text" };
import type { Gpu } from "../gpu/device.ts";
import { type Dispatch, grid, makeDispatch } from "../gpu/kernel.ts";
import type { ScratchPool } from "../gpu/scratch.ts";
import { specialize } from "../gpu/template.ts";
import { createTensor, readTensor, type Tensor, writeTensor } from "../gpu/tensor.ts";
import type { DenseLinear, LinearBackwardArgs, LinearForwardArgs, TrainableTensor } from "../model/linear.ts";
import { applyDropout, type DropoutMask } from "../ops/dropout.ts";
import { matmul } from "../ops/matmul.ts";
import { workgroupSum } from "../ops/pieces.ts";
import {
  droppedInputCpu,
  LORA_FAMILY,
  loraBackwardCpu,
  type LoraCpuArgs,
  loraForwardCpu,
  LoraLayer,
} from "./lora.ts";
import { type AdapterConfig, adapterDropout, type AdapterLayer, type AdapterMethod } from "./types.ts";
import { WrappedLinear } from "./wrapped_linear.ts";

const kernels = {
  norm: specialize({ file: "kernels/dora_norm.wgsl", code: normCode, pieces: [workgroupSum] }),
  scale: specialize({ file: "kernels/dora_scale_columns.wgsl", code: scaleCode }),
  magnitudeGrad: specialize({ file: "kernels/dora_magnitude_grad.wgsl", code: magnitudeGradCode }),
};

/** A DoRA adapter: a LoRA adapter plus a magnitude vector per output feature. */
export class DoraLayer extends WrappedLinear implements AdapterLayer {
  readonly lora: LoraLayer;
  readonly magnitude: Tensor;
  readonly gradMagnitude: Tensor;
  readonly norm: Tensor;
  readonly coef: Tensor;
  readonly #unscaled = new Map<number, Tensor>();

  private constructor(
    readonly gpu: Gpu,
    base: DenseLinear,
    readonly scratch: ScratchPool,
    config: AdapterConfig,
    readonly dropout?: DropoutMask,
  ) {
    super(base);
    this.lora = new LoraLayer({ gpu, base, scratch, r: config.r, alpha: config.alpha, seed: config.seed });
    const out = [base.outFeatures];
    this.magnitude = createTensor(gpu, `${base.name}.lora_magnitude_vector`, out);
    this.gradMagnitude = createTensor(gpu, `grad.${base.name}.lora_magnitude_vector`, out);
    this.norm = createTensor(gpu, `${base.name}.dora.norm`, out);
    this.coef = createTensor(gpu, `${base.name}.dora.coef`, out);
  }

  /** Wraps `base`, with m initialized to the row norms of W0; `dropout` applies in training (none: p = 0). */
  static async create(
    gpu: Gpu,
    base: DenseLinear,
    scratch: ScratchPool,
    config: AdapterConfig,
    dropout?: DropoutMask,
  ): Promise<DoraLayer> {
    const layer = new DoraLayer(gpu, base, scratch, config, dropout);
    await layer.#resetMagnitude();
    return layer;
  }

  /** U (rows, out), the unscaled output, kept from forward to backward (for ∂m). */
  #unscaledOf(rows: number): Tensor {
    let t = this.#unscaled.get(rows);
    if (!t) {
      this.#unscaled.set(
        rows,
        t = createTensor(this.gpu, `${this.name}.dora.unscaled`, [rows, this.outFeatures]),
      );
    }
    return t;
  }

  /** `y = x·diag(c + offset)`. */
  #scaleColumns(gpu: Gpu, y: Tensor, x: Tensor, rows: number, offset = 0): Promise<Dispatch> {
    const n = rows * this.outFeatures;
    return makeDispatch(gpu, kernels.scale, {
      params: { u32: [rows, this.outFeatures], f32: [offset] },
      tensors: [x, this.coef, y],
      workgroups: grid(gpu, Math.ceil(n / 256)),
    });
  }

  #norm(gpu: Gpu): Promise<Dispatch> {
    return makeDispatch(gpu, kernels.norm, {
      params: { u32: [this.outFeatures, this.inFeatures, this.lora.r], f32: [this.lora.scale] },
      tensors: [this.base.weight, this.lora.a, this.lora.b, this.magnitude, this.norm, this.coef],
      workgroups: grid(gpu, this.outFeatures),
    });
  }

  /**
   * `U = X̃·W0ᵀ + s·X̃·Aᵀ·Bᵀ`, `c = m ⊘ rownorm(W0 + s·B·A)`, `out = U·diag(c)`, plus `(x − X̃)·W0ᵀ` in
   * training with dropout (X̃ = D(x)); X̃ = x otherwise.
   */
  async forward(gpu: Gpu, { out, x, rows, training }: LinearForwardArgs): Promise<Dispatch[]> {
    const unscaled = this.#unscaledOf(rows);
    if (!(training && this.dropout)) {
      return [
        ...await this.lora.forward(gpu, { out: unscaled, x, rows }),
        await this.#norm(gpu),
        await this.#scaleColumns(gpu, out, unscaled, rows),
      ];
    }
    const mask = this.dropout;
    // X̃, then (once U is computed from it) x − X̃ in the same buffer.
    const dropped = this.scratch.get("adapter.dropped_input", [rows, this.inFeatures]);
    return [
      await applyDropout(gpu, { out: dropped, x, mask }),
      ...await this.lora.forward(gpu, { out: unscaled, x: dropped, rows }),
      await this.#norm(gpu),
      await this.#scaleColumns(gpu, out, unscaled, rows),
      await applyDropout(gpu, { out: dropped, x, mask, complement: true }),
      // out += (x − X̃)·W0ᵀ: (rows, out) = (rows, in)·(out, in)ᵀ
      ...await matmul(gpu, {
        out,
        a: dropped,
        b: this.base.weight,
        layout: "nt",
        m: rows,
        n: this.outFeatures,
        k: this.inFeatures,
        accumulate: true,
      }),
    ];
  }

  /** ∂m, and LoRA's backward with Ĝ = G·diag(c); with dropout in training, the spec's masked ∂x. */
  async backward(gpu: Gpu, args: LinearBackwardArgs): Promise<Dispatch[]> {
    const { dx, accumulateDx, dy, x, rows, training } = args;
    const unscaled = this.#unscaledOf(rows);
    const scaledGrad = this.scratch.get("dora.scaled_grad", [rows, this.outFeatures]);
    const common = [
      await makeDispatch(gpu, kernels.magnitudeGrad, {
        params: { u32: [rows, this.outFeatures] },
        tensors: [dy, unscaled, this.norm, this.gradMagnitude],
        workgroups: [Math.ceil(this.outFeatures / 64), 1, 1],
      }),
      await this.#scaleColumns(gpu, scaledGrad, dy, rows),
    ];
    if (!(training && this.dropout)) {
      return [...common, ...await this.lora.backward(gpu, { dx, accumulateDx, dy: scaledGrad, x, rows })];
    }
    const mask = this.dropout;
    const dropped = this.scratch.get("adapter.dropped_input", [rows, this.inFeatures]);
    const droppedGrad = dx ? this.scratch.get("adapter.dropped_grad", [rows, this.inFeatures]) : undefined;
    const out = [
      ...common,
      await applyDropout(gpu, { out: dropped, x, mask }),
      // ∂A, ∂B on X̃ with Ĝ; droppedGrad = ∂H·A
      ...await this.lora.adapterBackward(gpu, {
        dx: droppedGrad,
        accumulateDx: false,
        dy: scaledGrad,
        x: dropped,
        rows,
      }),
    ];
    if (!dx) return out;
    return [
      ...out,
      // droppedGrad += G·diag(c−1)·W0: (rows, in) = (rows, out)·(out, in)
      await this.#scaleColumns(gpu, scaledGrad, dy, rows, -1),
      ...await matmul(gpu, {
        out: droppedGrad!,
        a: scaledGrad,
        b: this.base.weight,
        layout: "nn",
        m: rows,
        n: this.inFeatures,
        k: this.outFeatures,
        accumulate: true,
      }),
      ...await this.base.backward(gpu, { dx, accumulateDx, dy, x, rows }),
      await applyDropout(gpu, { out: dx, x: droppedGrad!, mask, accumulate: true }),
    ];
  }

  trainable(): TrainableTensor[] {
    return [
      ...this.lora.trainable(),
      {
        name: `${this.name}.lora_magnitude_vector`,
        value: this.magnitude,
        grad: this.gradMagnitude,
        group: "dora_m",
      },
    ];
  }

  peftTensors(): Record<string, Tensor> {
    return { ...this.lora.peftTensors(), lora_magnitude_vector: this.magnitude };
  }

  /** `ΔW = diag(m ⊘ n*)·(W0 + s·B·A) − W0`, float64. */
  async deltaWeight(): Promise<Float64Array> {
    const delta = await this.lora.deltaWeight();
    const w0 = await readTensor(this.base.weight);
    const m = await readTensor(this.magnitude);
    const n = this.inFeatures;
    for (let o = 0; o < this.outFeatures; o++) {
      let sq = 0;
      for (let i = 0; i < n; i++) sq += (w0[o * n + i]! + delta[o * n + i]!) ** 2;
      const c = m[o]! / Math.sqrt(sq);
      for (let i = 0; i < n; i++) {
        delta[o * n + i] = c * (w0[o * n + i]! + delta[o * n + i]!) - w0[o * n + i]!;
      }
    }
    return delta;
  }

  /** LoRA re-initialization; m keeps its value (call after a merge, when rownorm(W) is the new norm). */
  reinitialize(seed: number): void {
    this.lora.reinitialize(seed);
  }

  async #resetMagnitude(): Promise<void> {
    const w0 = await readTensor(this.base.weight);
    const n = this.inFeatures;
    const m = new Float32Array(this.outFeatures);
    for (let o = 0; o < this.outFeatures; o++) {
      let sq = 0;
      for (let i = 0; i < n; i++) sq += w0[o * n + i]! ** 2;
      m[o] = Math.sqrt(sq);
    }
    writeTensor(this.magnitude, m);
  }

  destroy(): void {
    this.lora.destroy();
    for (const t of [this.magnitude, this.gradMagnitude, this.norm, this.coef]) t.destroy();
    for (const t of this.#unscaled.values()) t.destroy();
  }
}

/**
 * The `"dora"` method: each targeted layer becomes a {@link DoraLayer} (LoRA direction, trained magnitude);
 * LoRA's defaults, validation and input dropout.
 */
export const dora: AdapterMethod = {
  name: "dora",
  summary: "DoRA (Liu et al. 2024): LoRA direction with a trained per-output magnitude, norm detached",
  ...LORA_FAMILY,
  wrap: (gpu, base, c, scratch, dropoutStep) =>
    DoraLayer.create(gpu, base, scratch, c, adapterDropout(c, base.name, dropoutStep)),
};

/** Inputs of the DoRA CPU reference: LoRA's plus the magnitude m (out); `norm` overrides n (held constant). */
export interface DoraCpuArgs extends LoraCpuArgs {
  m: ArrayLike<number>;
  norm?: ArrayLike<number>;
}

/** n = rownorm(W0 + s·B·A) in float64. */
export function doraNormCpu(p: LoraCpuArgs): Float64Array {
  const norm = new Float64Array(p.outF);
  for (let o = 0; o < p.outF; o++) {
    let sq = 0;
    for (let i = 0; i < p.inF; i++) {
      let v = p.w0[o * p.inF + i]!;
      for (let k = 0; k < p.r; k++) v += p.scale * p.b[o * p.r + k]! * p.a[k * p.inF + i]!;
      sq += v * v;
    }
    norm[o] = Math.sqrt(sq);
  }
  return norm;
}

/**
 * `y = U·diag(m ⊘ n)` in float64, U = LoRA's output; with `inputMask` (dropout) the training form
 * `y = x·W0ᵀ + P·diag(c−1) + Q·diag(c)`, P = X̃·W0ᵀ, Q = s·X̃·Aᵀ·Bᵀ, U = P + Q. Also returns U and n.
 */
export function doraForwardCpu(
  p: DoraCpuArgs,
): { y: Float64Array; u: Float64Array; norm: ArrayLike<number> } {
  const norm = p.norm ?? doraNormCpu(p);
  const coef = (idx: number) => p.m[idx % p.outF]! / norm[idx % p.outF]!;
  if (!p.inputMask) {
    const u = loraForwardCpu(p).y;
    return { y: u.map((value, idx) => value * coef(idx)), u, norm };
  }
  const dropped = droppedInputCpu(p);
  const u = loraForwardCpu({ ...p, x: dropped, inputMask: undefined }).y;
  const baseOnly = { ...p, a: [], b: [], r: 0, inputMask: undefined };
  const clean = loraForwardCpu(baseOnly).y;
  const droppedBase = loraForwardCpu({ ...baseOnly, x: dropped }).y;
  const y = u.map((value, idx) => clean[idx]! - droppedBase[idx]! + value * coef(idx));
  return { y, u, norm };
}

/**
 * Gradients of Σ y·g with the norm detached: ∂m, and LoRA's ∂A, ∂B, ∂x with g·diag(c); with `inputMask`,
 * `∂x = G·W0 + mask ⊙ (G·diag(c−1)·W0 + s·Ĝ·B·A)` (spec baselines §8).
 */
export function doraBackwardCpu(
  p: DoraCpuArgs,
  g: ArrayLike<number>,
): { gradM: Float64Array; gradA: Float64Array; gradB: Float64Array; gradX: Float64Array } {
  const { u, norm } = doraForwardCpu(p);
  const gradM = new Float64Array(p.outF);
  const scaled = new Float64Array(g.length);
  for (let idx = 0; idx < g.length; idx++) {
    const o = idx % p.outF;
    gradM[o]! += g[idx]! * u[idx]! / norm[o]!;
    scaled[idx] = g[idx]! * p.m[o]! / norm[o]!;
  }
  const mask = p.inputMask;
  if (!mask) return { gradM, ...loraBackwardCpu(p, scaled) };
  // LoRA's gradients on X̃ with Ĝ; their ∂X̃ is Ĝ·W0 + s·Ĝ·B·A, so ∂X̃ − G·W0 is the masked term.
  const lora = loraBackwardCpu({ ...p, x: droppedInputCpu(p), inputMask: undefined }, scaled);
  const cleanGrad = loraBackwardCpu({ ...p, a: [], b: [], r: 0, inputMask: undefined }, g).gradX;
  const gradX = cleanGrad.map((v, i) => v + mask[i]! * (lora.gradX[i]! - v));
  return { gradM, gradA: lora.gradA, gradB: lora.gradB, gradX };
}

/**
 * LoRA (Hu et al. 2021, as Hugging Face PEFT implements it; spec baselines §4): `y = x·W0ᵀ + s·(X̃·Aᵀ)·Bᵀ`
 * with `A (r, in)` kaiming-uniform (`U(±1/√in)`), `B (out, r)` zero, `s = alpha / r`, and `X̃ = D(x)` the
 * input dropout in training (PEFT `lora_dropout`; X̃ = x in evaluation or when p = 0). Never materializes B·A
 * in training: two skinny matmuls forward, four backward.
 *
 * Backward (G = ∂L/∂y, H = X̃·Aᵀ): `∂B = s·Gᵀ·H`, `∂H = s·G·B`, `∂A = ∂Hᵀ·X̃`, `∂x = G·W0 + D(∂H·A)` (D with
 * the forward's mask, recomputed from its hash rather than stored). Merge: `ΔW = s·B·A`.
 *
 * @module
 */

import type { Gpu } from "../gpu/device.ts";
import type { Dispatch } from "../gpu/kernel.ts";
import type { ScratchPool } from "../gpu/scratch.ts";
import { createTensor, readTensor, type Tensor, writeTensor } from "../gpu/tensor.ts";
import type { DenseLinear, LinearBackwardArgs, LinearForwardArgs, TrainableTensor } from "../model/linear.ts";
import { applyDropout, type DropoutMask } from "../ops/dropout.ts";
import { matmul } from "../ops/matmul.ts";
import { SeededRandom } from "../random.ts";
import { type AdapterConfig, adapterDropout, type AdapterLayer, type AdapterMethod } from "./types.ts";
import { WrappedLinear } from "./wrapped_linear.ts";

/** How A is initialized. */
export type LoraInit = "kaiming" | "orthonormal";

/** What a {@link LoraLayer} is built from. */
export interface LoraLayerOptions {
  /** The device the adapter tensors live on. */
  gpu: Gpu;
  /** The frozen base layer. */
  base: DenseLinear;
  /** Buffers shared by all layers for values that live within one op. */
  scratch: ScratchPool;
  /** Rank r. */
  r: number;
  /** Scale numerator: s = alpha / r. */
  alpha: number;
  /** Seed of A's initialization. */
  seed: number;
  /** A's initialization; `"kaiming"` by default, `"orthonormal"` for AsyLoRA. */
  init?: LoraInit;
  /** Whether A trains; true by default (false: original AsyLoRA). */
  trainA?: boolean;
  /** Input dropout in training ({@link adapterDropout}); none when undefined. */
  dropout?: DropoutMask;
}

/** A LoRA adapter around a frozen base layer. */
export class LoraLayer extends WrappedLinear implements AdapterLayer {
  readonly gpu: Gpu;
  readonly scratch: ScratchPool;
  readonly r: number;
  readonly init: LoraInit;
  readonly trainA: boolean;
  readonly dropout?: DropoutMask;
  readonly a: Tensor;
  readonly b: Tensor;
  readonly gradA: Tensor;
  readonly gradB: Tensor;
  readonly scale: number;
  readonly #hidden = new Map<number, Tensor>();

  /** Creates A (initialized from the seed), B (zero) and their gradients. */
  constructor(
    { gpu, base, scratch, r, alpha, seed, init = "kaiming", trainA = true, dropout }: LoraLayerOptions,
  ) {
    super(base);
    this.gpu = gpu;
    this.scratch = scratch;
    this.r = r;
    this.init = init;
    this.trainA = trainA;
    this.dropout = dropout;
    this.scale = alpha / r;
    this.a = createTensor(gpu, `${base.name}.lora_A.weight`, [r, base.inFeatures]);
    this.b = createTensor(gpu, `${base.name}.lora_B.weight`, [base.outFeatures, r]);
    this.gradA = createTensor(gpu, `grad.${base.name}.lora_A.weight`, [r, base.inFeatures]);
    this.gradB = createTensor(gpu, `grad.${base.name}.lora_B.weight`, [base.outFeatures, r]);
    this.reinitialize(seed);
  }

  /** H = x·Aᵀ (rows, r), one per activation shape, kept from forward to backward. */
  #hiddenOf(rows: number): Tensor {
    let t = this.#hidden.get(rows);
    if (!t) this.#hidden.set(rows, t = createTensor(this.gpu, `${this.name}.lora.hidden`, [rows, this.r]));
    return t;
  }

  /** `out = x·W0ᵀ + s·(X̃·Aᵀ)·Bᵀ`, X̃ = D(x) in training with dropout, else x. */
  async forward(gpu: Gpu, { out, x, rows, training }: LinearForwardArgs): Promise<Dispatch[]> {
    const base = await this.base.forward(gpu, { out, x, rows });
    if (!(training && this.dropout)) return [...base, ...await this.adapterForward(gpu, { out, x, rows })];
    const dropped = this.scratch.get("adapter.dropped_input", [rows, this.inFeatures]);
    return [
      ...base,
      await applyDropout(gpu, { out: dropped, x, mask: this.dropout }),
      ...await this.adapterForward(gpu, { out, x: dropped, rows }),
    ];
  }

  /** The adapter term alone, `out += s·(x·Aᵀ)·Bᵀ`, with x the adapter's input; keeps H for the backward. */
  async adapterForward(gpu: Gpu, { out, x, rows }: LinearForwardArgs): Promise<Dispatch[]> {
    const h = this.#hiddenOf(rows);
    return [
      ...await matmul(gpu, { out: h, a: x, b: this.a, layout: "nt", m: rows, n: this.r, k: this.inFeatures }),
      ...await matmul(gpu, {
        out,
        a: h,
        b: this.b,
        layout: "nt",
        m: rows,
        n: this.outFeatures,
        k: this.r,
        alpha: this.scale,
        accumulate: true,
      }),
    ];
  }

  /** Gradients of A and B (overwritten) and `dx (+)= G·W0 + D(∂H·A)` (D only in training with dropout). */
  async backward(gpu: Gpu, args: LinearBackwardArgs): Promise<Dispatch[]> {
    const { dx, accumulateDx, dy, x, rows, training } = args;
    const base = await this.base.backward(gpu, { dx, accumulateDx, dy, x, rows });
    if (!(training && this.dropout)) {
      return [...base, ...await this.adapterBackward(gpu, { dx, accumulateDx: true, dy, x, rows })];
    }
    const dropped = this.scratch.get("adapter.dropped_input", [rows, this.inFeatures]);
    const droppedGrad = dx ? this.scratch.get("adapter.dropped_grad", [rows, this.inFeatures]) : undefined;
    const out = [
      ...base,
      await applyDropout(gpu, { out: dropped, x, mask: this.dropout }),
      ...await this.adapterBackward(gpu, { dx: droppedGrad, accumulateDx: false, dy, x: dropped, rows }),
    ];
    if (dx) {
      out.push(await applyDropout(gpu, { out: dx, x: droppedGrad!, mask: this.dropout, accumulate: true }));
    }
    return out;
  }

  /**
   * The adapter term's backward alone, x being the adapter's input: `∂B = s·Gᵀ·H`, `∂A = ∂Hᵀ·x` (overwritten)
   * and `dx (+)= ∂H·A`, with H from {@link LoraLayer.adapterForward}.
   */
  async adapterBackward(
    gpu: Gpu,
    { dx, accumulateDx, dy, x, rows }: LinearBackwardArgs,
  ): Promise<Dispatch[]> {
    const h = this.#hiddenOf(rows);
    const dh = this.scratch.get("lora.grad_hidden", [rows, this.r]);
    const out = [
      // ∂B = s·Gᵀ·H: (out, r) = (rows, out)ᵀ·(rows, r)
      ...await matmul(gpu, {
        out: this.gradB,
        a: dy,
        b: h,
        layout: "tn",
        m: this.outFeatures,
        n: this.r,
        k: rows,
        alpha: this.scale,
        scratch: this.scratch,
      }),
      // ∂H = s·G·B: (rows, r) = (rows, out)·(out, r)
      ...await matmul(gpu, {
        out: dh,
        a: dy,
        b: this.b,
        layout: "nn",
        m: rows,
        n: this.r,
        k: this.outFeatures,
        alpha: this.scale,
      }),
    ];
    if (this.trainA) {
      // ∂A = ∂Hᵀ·x: (r, in) = (rows, r)ᵀ·(rows, in)
      out.push(
        ...await matmul(gpu, {
          out: this.gradA,
          a: dh,
          b: x,
          layout: "tn",
          m: this.r,
          n: this.inFeatures,
          k: rows,
          scratch: this.scratch,
        }),
      );
    }
    if (dx) {
      // ∂x (+)= ∂H·A: (rows, in) = (rows, r)·(r, in)
      out.push(
        ...await matmul(gpu, {
          out: dx,
          a: dh,
          b: this.a,
          layout: "nn",
          m: rows,
          n: this.inFeatures,
          k: this.r,
          accumulate: accumulateDx,
        }),
      );
    }
    return out;
  }

  /** A (unless frozen) and B; B is in group `lora_B` so LoRA+ can scale its learning rate. */
  trainable(): TrainableTensor[] {
    const out: TrainableTensor[] = [];
    if (this.trainA) {
      out.push({ name: `${this.name}.lora_A.weight`, value: this.a, grad: this.gradA, group: "lora_A" });
    }
    out.push({ name: `${this.name}.lora_B.weight`, value: this.b, grad: this.gradB, group: "lora_B" });
    return out;
  }

  peftTensors(): Record<string, Tensor> {
    return { "lora_A.weight": this.a, "lora_B.weight": this.b };
  }

  /** `ΔW = s·B·A`, float64. */
  async deltaWeight(): Promise<Float64Array> {
    const [a, b] = [await readTensor(this.a), await readTensor(this.b)];
    const { inFeatures: n, outFeatures: m, r } = this;
    const delta = new Float64Array(m * n);
    for (let o = 0; o < m; o++) {
      for (let k = 0; k < r; k++) {
        const bok = this.scale * b[o * r + k]!;
        if (bok === 0) continue;
        for (let i = 0; i < n; i++) delta[o * n + i]! += bok * a[k * n + i]!;
      }
    }
    return delta;
  }

  /** A fresh A (kaiming-uniform or orthonormal rows) and B = 0, so ΔW = 0. */
  reinitialize(seed: number): void {
    const rng = new SeededRandom(seed, this.name);
    const a = this.init === "orthonormal"
      ? rng.orthonormalRows(this.r, this.inFeatures)
      : rng.uniformArray(this.r * this.inFeatures, 1 / Math.sqrt(this.inFeatures));
    writeTensor(this.a, a);
    writeTensor(this.b, new Float32Array(this.b.size));
  }

  destroy(): void {
    for (const t of [this.a, this.b, this.gradA, this.gradB, ...this.#hidden.values()]) t.destroy();
  }
}

/** Validates the fields every LoRA-family method uses. */
export function validateLoraConfig(c: AdapterConfig): void {
  if (!Number.isInteger(c.r) || c.r < 1) {
    throw new RangeError(`Cannot use LoRA rank ${c.r}: r must be a positive integer`);
  }
  if (!(c.alpha > 0)) throw new RangeError(`Cannot use lora_alpha ${c.alpha}: it must be positive`);
}

/**
 * What every LoRA-family method shares: α = 2r (the paper's r = 8, α = 16), the rank as the inner size,
 * validation, the LoRA layer and input dropout. Methods spread it and override what differs.
 */
export const LORA_FAMILY: Pick<
  AdapterMethod,
  "defaults" | "validate" | "innerSize" | "wrap" | "appliesDropout"
> = {
  defaults: (r) => ({ alpha: 2 * r }),
  validate: validateLoraConfig,
  innerSize: (c) => c.r,
  wrap: wrapLora,
  appliesDropout: true,
};

/** The `"lora"` method: a {@link LoraLayer} with kaiming-uniform A, zero B and α = 2r by default. */
export const lora: AdapterMethod = {
  name: "lora",
  summary: "LoRA (Hu et al. 2021): ΔW = (alpha/r)·B·A, A kaiming-uniform, B zero",
  ...LORA_FAMILY,
};

/**
 * Wraps `base` in a LoRA layer of the config's rank, scale, seed and input dropout (LoRA, LoRA+, ReLoRA;
 * AsyLoRA passes its init and whether A trains in `options`).
 */
export function wrapLora(
  gpu: Gpu,
  base: DenseLinear,
  c: AdapterConfig,
  scratch: ScratchPool,
  dropoutStep: Tensor,
  options: Pick<LoraLayerOptions, "init" | "trainA"> = {},
): LoraLayer {
  const dropout = adapterDropout(c, base.name, dropoutStep);
  return new LoraLayer({ gpu, base, scratch, r: c.r, alpha: c.alpha, seed: c.seed, dropout, ...options });
}

/**
 * Inputs of the LoRA CPU reference: x (rows, in), W0 (out, in), A (r, in), B (out, r), and optionally the
 * dropout multiplier (rows, in) — 1/(1−p) where kept, 0 where dropped — so that X̃ = inputMask ⊙ x.
 */
export interface LoraCpuArgs {
  x: ArrayLike<number>;
  w0: ArrayLike<number>;
  a: ArrayLike<number>;
  b: ArrayLike<number>;
  rows: number;
  inF: number;
  outF: number;
  r: number;
  scale: number;
  inputMask?: ArrayLike<number>;
}

/** X̃ = inputMask ⊙ x, or x without a mask. */
export function droppedInputCpu(p: LoraCpuArgs): ArrayLike<number> {
  const mask = p.inputMask;
  return mask ? Float64Array.from(p.x, (v, i) => v * mask[i]!) : p.x;
}

/** `y = x·W0ᵀ + s·(X̃·Aᵀ)·Bᵀ` in float64; also returns H = X̃·Aᵀ. */
export function loraForwardCpu(p: LoraCpuArgs): { y: Float64Array; h: Float64Array } {
  const h = new Float64Array(p.rows * p.r);
  const y = new Float64Array(p.rows * p.outF);
  const xd = droppedInputCpu(p);
  for (let t = 0; t < p.rows; t++) {
    for (let k = 0; k < p.r; k++) {
      let s = 0;
      for (let i = 0; i < p.inF; i++) s += xd[t * p.inF + i]! * p.a[k * p.inF + i]!;
      h[t * p.r + k] = s;
    }
    for (let o = 0; o < p.outF; o++) {
      let s = 0;
      for (let i = 0; i < p.inF; i++) s += p.x[t * p.inF + i]! * p.w0[o * p.inF + i]!;
      for (let k = 0; k < p.r; k++) s += p.scale * h[t * p.r + k]! * p.b[o * p.r + k]!;
      y[t * p.outF + o] = s;
    }
  }
  return { y, h };
}

/** Gradients of Σ y·g in float64: ∂A, ∂B, ∂x (spec baselines §4, with the dropout mask when given). */
export function loraBackwardCpu(
  p: LoraCpuArgs,
  g: ArrayLike<number>,
): { gradA: Float64Array; gradB: Float64Array; gradX: Float64Array } {
  const { h } = loraForwardCpu(p);
  const xd = droppedInputCpu(p);
  const mask = p.inputMask;
  const dh = new Float64Array(p.rows * p.r);
  const gradB = new Float64Array(p.outF * p.r);
  const gradA = new Float64Array(p.r * p.inF);
  const gradX = new Float64Array(p.rows * p.inF);
  for (let t = 0; t < p.rows; t++) {
    for (let o = 0; o < p.outF; o++) {
      const gto = g[t * p.outF + o]!;
      for (let k = 0; k < p.r; k++) {
        gradB[o * p.r + k]! += p.scale * gto * h[t * p.r + k]!;
        dh[t * p.r + k]! += p.scale * gto * p.b[o * p.r + k]!;
      }
      for (let i = 0; i < p.inF; i++) gradX[t * p.inF + i]! += gto * p.w0[o * p.inF + i]!;
    }
    for (let k = 0; k < p.r; k++) {
      for (let i = 0; i < p.inF; i++) {
        const ti = t * p.inF + i;
        gradA[k * p.inF + i]! += dh[t * p.r + k]! * xd[ti]!;
        gradX[ti]! += (mask ? mask[ti]! : 1) * dh[t * p.r + k]! * p.a[k * p.inF + i]!;
      }
    }
  }
  return { gradA, gradB, gradX };
}

/**
 * The LLaMA decoder on the GPU: weights by Hugging Face name, the linear layers adapters wrap, and the
 * trainable-tensor list. The forward and backward dispatch plans live in `plan.ts`.
 *
 * Architecture (Hugging Face `LlamaForCausalLM`): token embedding; per layer
 * `h = x + o_proj(attn(rope(q_proj(n1)), rope(k_proj(n1)), v_proj(n1)))` with `n1 = rmsnorm(x)`, then
 * `x' = h + down_proj(silu(gate_proj(n2)) ⊙ up_proj(n2))` with `n2 = rmsnorm(h)`; final rmsnorm; `lm_head`.
 *
 * @module
 */

import type { Gpu } from "../gpu/device.ts";
import { ScratchPool } from "../gpu/scratch.ts";
import { createTensor, readTensor, type Tensor, writeTensor } from "../gpu/tensor.ts";
import type { LlamaConfig } from "./config.ts";
import { llamaParameterShapes } from "./checkpoint.ts";
import { DenseLinear, type LinearLayer, type TrainableTensor } from "./linear.ts";

/** The seven projections of a decoder layer, in Hugging Face module names. */
export const PROJECTIONS = [
  "q_proj",
  "k_proj",
  "v_proj",
  "o_proj",
  "gate_proj",
  "up_proj",
  "down_proj",
] as const;

const MLP_PROJECTIONS: ReadonlySet<string> = new Set(["gate_proj", "up_proj", "down_proj"]);

/** A projection name. */
export type Projection = typeof PROJECTIONS[number];

/** Module path of a projection: `model.layers.N.self_attn.q_proj` or `model.layers.N.mlp.gate_proj`. */
export function projectionPath(layer: number, projection: Projection): string {
  const block = MLP_PROJECTIONS.has(projection) ? "mlp" : "self_attn";
  return `model.layers.${layer}.${block}.${projection}`;
}

/** Options of {@link LlamaModel.create}. */
export interface LlamaModelOptions {
  /** Train every base tensor (full fine-tuning / pretraining); false freezes them (adapters). */
  trainBase: boolean;
  /**
   * With `trainBase` false, still train the tensors no adapter wraps: embeddings, RMSNorm gains and `lm_head`
   * (pretraining from scratch with adapters, paper §5.3); the block projections stay frozen. Default false.
   */
  trainUnadapted?: boolean;
}

/** Whether a base tensor is a block projection's weight (what adapters wrap). */
function isProjectionWeight(name: string): boolean {
  return name.startsWith("model.layers.") && name.endsWith("_proj.weight");
}

/** A LLaMA model resident on the GPU. */
export class LlamaModel {
  /** Linear layers by module path; adapters replace entries through {@link LlamaModel.setLinear}. */
  readonly linears: Map<string, LinearLayer> = new Map();
  /** Per-op scratch buffers shared by all layers (adapters' transient buffers). */
  readonly scratch: ScratchPool;
  /**
   * The training step as one u32 on the GPU, which adapters' input dropout hashes into its masks; the trainer
   * rewrites it before each step ({@link LlamaModel.setDropoutStep}) so built dispatches draw fresh masks.
   */
  readonly dropoutStep: Tensor;

  private constructor(
    readonly gpu: Gpu,
    readonly config: LlamaConfig,
    /** Base tensors by Hugging Face name (`lm_head.weight` aliases the embedding when tied). */
    readonly weights: Map<string, Tensor>,
    /** Gradients of trainable base tensors by name. */
    readonly grads: Map<string, Tensor>,
  ) {
    this.scratch = new ScratchPool(gpu);
    this.dropoutStep = createTensor(gpu, "dropout.step", [1]);
  }

  /**
   * Uploads `weights` (Hugging Face names, float32) and creates the linear layers.
   *
   * @throws {RangeError} naming a missing tensor or a wrong shape.
   */
  static create(
    gpu: Gpu,
    config: LlamaConfig,
    weights: Map<string, Float32Array>,
    options: LlamaModelOptions,
  ): LlamaModel {
    const tensors = new Map<string, Tensor>();
    const grads = new Map<string, Tensor>();
    for (const { name, shape } of llamaParameterShapes(config)) {
      const data = weights.get(name);
      if (!data) throw new RangeError(`Cannot build the model: weight "${name}" is missing`);
      const expected = shape.reduce((a, b) => a * b, 1);
      if (data.length !== expected) {
        throw new RangeError(
          `Cannot build the model: weight "${name}" has ${data.length} values, expected [${
            shape.join(", ")
          }]`,
        );
      }
      tensors.set(name, createTensor(gpu, name, shape, new Float32Array(data)));
      const trains = options.trainBase || (options.trainUnadapted === true && !isProjectionWeight(name));
      if (trains) grads.set(name, createTensor(gpu, `grad.${name}`, shape));
    }
    if (config.tieWordEmbeddings) {
      tensors.set("lm_head.weight", tensors.get("model.embed_tokens.weight")!);
      const g = grads.get("model.embed_tokens.weight");
      if (g) grads.set("lm_head.weight", g);
    }
    const model = new LlamaModel(gpu, config, tensors, grads);
    for (let l = 0; l < config.numHiddenLayers; l++) {
      for (const p of PROJECTIONS) model.#addDense(projectionPath(l, p));
    }
    model.#addDense("lm_head");
    return model;
  }

  #addDense(path: string): void {
    const name = `${path}.weight`;
    this.linears.set(
      path,
      new DenseLinear(path, this.weights.get(name)!, this.grads.get(name), this.scratch),
    );
  }

  /** The linear layer at a module path. */
  linear(path: string): LinearLayer {
    const layer = this.linears.get(path);
    if (!layer) throw new RangeError(`Cannot find linear layer "${path}"`);
    return layer;
  }

  /** Replaces a linear layer (an adapter wrapping the base layer). */
  setLinear(path: string, layer: LinearLayer): void {
    this.linear(path);
    this.linears.set(path, layer);
  }

  /** A base tensor by Hugging Face name. */
  weight(name: string): Tensor {
    const t = this.weights.get(name);
    if (!t) throw new RangeError(`Cannot find weight "${name}"`);
    return t;
  }

  /** Every trainable tensor: trainable base tensors (once, even when tied) and adapter tensors. */
  trainable(): TrainableTensor[] {
    const out: TrainableTensor[] = [];
    const seen = new Set<Tensor>();
    for (const { name } of llamaParameterShapes(this.config)) {
      const grad = this.grads.get(name);
      if (grad) {
        out.push({ name, value: this.weights.get(name)!, grad, group: "base" });
        seen.add(this.weights.get(name)!);
      }
    }
    for (const layer of this.linears.values()) {
      for (const t of layer.trainable()) if (!seen.has(t.value)) out.push(t);
    }
    return out;
  }

  /** Reads every base weight back (Hugging Face names, without the tied `lm_head.weight` alias). */
  async readWeights(): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>();
    for (const { name } of llamaParameterShapes(this.config)) {
      out.set(name, await readTensor(this.weights.get(name)!));
    }
    return out;
  }

  /** Overwrites one base weight from the CPU. */
  writeWeight(name: string, data: Float32Array<ArrayBuffer>): void {
    writeTensor(this.weight(name), data);
  }

  /** Sets the step the next submitted training work draws its dropout masks for (queued like any write). */
  setDropoutStep(step: number): void {
    writeTensor(this.dropoutStep, new Uint32Array([step]));
  }

  /** Frees every GPU tensor of the model. */
  destroy(): void {
    for (const t of new Set([...this.weights.values(), ...this.grads.values()])) t.destroy();
    this.dropoutStep.destroy();
    this.scratch.destroy();
  }
}

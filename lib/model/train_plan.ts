/**
 * The training step of a LLaMA model as two dispatch lists built once per (batch, seqLen): the forward
 * pass to the loss, keeping every activation the backward needs (llm.c's `ActivationTensors`), and the
 * backward pass, which is the forward list reversed and writes the gradient of every trainable tensor.
 *
 * Loss: transformers' causal-LM loss — position t predicts label t+1 (the plan shifts labels when they
 * are written), `-100` is ignored, mean over counted tokens.
 *
 * @module
 */

import type { Dispatch } from "../gpu/kernel.ts";
import { collectScratch, ownedAllocator, type Tensor, writeTensor } from "../gpu/tensor.ts";
import { attentionBackward } from "../ops/attention.ts";
import { crossEntropyBackward, crossEntropyForward, IGNORE_INDEX } from "../ops/cross_entropy.ts";
import { embeddingBackward, embeddingBackwardIndex } from "../ops/embedding.ts";
import { rmsnormBackward } from "../ops/rmsnorm.ts";
import { ropeBackward } from "../ops/rope.ts";
import { swigluBackward } from "../ops/swiglu.ts";
import {
  allocateLayer,
  allocateScratch,
  embedForward,
  headForward,
  type LayerActivations,
  layerForward,
} from "./forward.ts";
import { type LlamaModel, type Projection, projectionPath } from "./llama.ts";
import type { LinearBackwardArgs } from "./linear.ts";

/** A built training step. */
export interface TrainPlan {
  /** Sequences per batch. */
  batch: number;
  /** Tokens per sequence. */
  seqLen: number;
  /** Logits (batch·seqLen, vocab) of the last forward. */
  logits: Tensor;
  /** [mean loss, counted tokens] of the last forward. */
  stats: Tensor;
  /** Forward to the loss. */
  forward: Dispatch[];
  /** Backward from the loss to every trainable gradient (empty when built without backward). */
  backward: Dispatch[];
  /** Uploads a batch: token ids and unshifted labels (batch·seqLen each, `-100` = ignore). */
  writeBatch(inputIds: Uint32Array, labels: Int32Array): void;
  /** Frees the plan's activations (not the model). */
  destroy(): void;
}

/** Shifts labels for causal-LM loss: row t gets label t+1 of the same sequence, the last row is ignored. */
export function shiftLabels(labels: Int32Array, batch: number, seqLen: number): Int32Array<ArrayBuffer> {
  const out = new Int32Array(batch * seqLen).fill(IGNORE_INDEX);
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t + 1 < seqLen; t++) out[b * seqLen + t] = labels[b * seqLen + t + 1]!;
  }
  return out;
}

/**
 * Builds the forward (and, with `withBackward`, backward) dispatches of one training step. A plan with backward
 * is a training plan: adapters apply their input dropout, with masks drawn for the step in `model.dropoutStep`
 * (the trainer sets it before each step); a plan without is an evaluation plan and applies none.
 *
 * @throws {RangeError} when seqLen exceeds `max_position_embeddings` or a tensor does not fit the device.
 */
export async function buildTrainPlan(model: LlamaModel, options: TrainPlanOptions): Promise<TrainPlan> {
  const owned: Tensor[] = [];
  try {
    return await collectScratch(model.gpu, owned, () => buildInto(model, options, owned));
  } catch (error) {
    for (const tensor of owned) tensor.destroy();
    throw error;
  }
}

/** Options of {@link buildTrainPlan}. */
export interface TrainPlanOptions {
  /** Sequences per step. */
  batch: number;
  /** Tokens per sequence. */
  seqLen: number;
  /** Also build the backward pass (training; adapters then apply input dropout). */
  withBackward?: boolean;
  /** Multiplies the loss gradient (1/k for k accumulated micro-batches); default 1. */
  lossScale?: number;
}

/** Builds the plan; every tensor it and its ops allocate goes into `owned`, freed by `destroy`. */
async function buildInto(model: LlamaModel, options: TrainPlanOptions, owned: Tensor[]): Promise<TrainPlan> {
  const { batch, seqLen } = options;
  const training = options.withBackward ?? false;
  const c = model.config;
  if (seqLen > c.maxPositionEmbeddings) {
    throw new RangeError(
      `Cannot build a step of ${seqLen} tokens: max_position_embeddings is ${c.maxPositionEmbeddings}`,
    );
  }
  const gpu = model.gpu;
  const rows = batch * seqLen;
  const t = ownedAllocator(gpu, owned);
  const ids = t("input_ids", [rows]);
  const labels = t("labels", [rows]);
  const order = t("embedding.order", [rows]);
  const starts = t("embedding.starts", [c.vocabSize + 1]);
  const shape = { batch, queryLen: seqLen, positionOffset: 0, keyCapacity: seqLen };
  const scratch = allocateScratch(model, rows, owned, false);
  const layers: LayerActivations[] = [];
  let x = t("embeddings", [rows, c.hiddenSize]);
  const forward: Dispatch[] = await embedForward(model, x, ids, rows);
  for (let l = 0; l < c.numHiddenLayers; l++) {
    const acts = allocateLayer(model, l, shape, x, owned);
    layers.push(acts);
    forward.push(...await layerForward(model, l, acts, scratch, shape, training));
    x = acts.out;
  }
  const head = {
    logits: t("logits", [rows, c.vocabSize]),
    nf: t("norm", [rows, c.hiddenSize]),
    rstdf: t("rstd", [rows]),
  };
  const lse = t("loss.lse", [rows]);
  const stats = t("loss.stats", [2]);
  forward.push(
    ...await headForward(gpu, model, { ...head, x, rows, training }),
    ...await crossEntropyForward(gpu, {
      rowLoss: t("loss.rows", [rows]),
      lse,
      stats,
      logits: head.logits,
      labels,
      rows,
      vocab: c.vocabSize,
    }),
  );
  const backward = training
    ? await buildBackward(model, {
      rows,
      lossScale: options.lossScale ?? 1,
      shape,
      layers,
      head,
      x,
      lse,
      stats,
      labels,
      order,
      starts,
      owned,
    })
    : [];
  return {
    batch,
    seqLen,
    logits: head.logits,
    stats,
    forward,
    backward,
    writeBatch(inputIds, rawLabels) {
      if (inputIds.length !== rows || rawLabels.length !== rows) {
        throw new RangeError(`Cannot write a batch of ${inputIds.length} ids into a plan of ${rows} tokens`);
      }
      writeTensor(ids, new Uint32Array(inputIds));
      writeTensor(labels, shiftLabels(rawLabels, batch, seqLen));
      if (options.withBackward) {
        const index = embeddingBackwardIndex(inputIds, c.vocabSize);
        writeTensor(order, new Uint32Array(index.order));
        writeTensor(starts, new Uint32Array(index.starts));
      }
    },
    destroy() {
      for (const tensor of owned) tensor.destroy();
    },
  };
}

interface BackwardInputs {
  rows: number;
  lossScale: number;
  shape: { batch: number; queryLen: number };
  layers: LayerActivations[];
  head: { logits: Tensor; nf: Tensor; rstdf: Tensor };
  x: Tensor;
  lse: Tensor;
  stats: Tensor;
  labels: Tensor;
  order: Tensor;
  starts: Tensor;
  owned: Tensor[];
}

async function buildBackward(model: LlamaModel, a: BackwardInputs): Promise<Dispatch[]> {
  const gpu = model.gpu;
  const c = model.config;
  const { rows } = a;
  const t = ownedAllocator(gpu, a.owned);
  const qWidth = c.numAttentionHeads * c.headDim;
  const kvWidth = c.numKeyValueHeads * c.headDim;
  const d = {
    logits: t("grad.logits", [rows, c.vocabSize]),
    resid: t("grad.residual", [rows, c.hiddenSize]),
    norm: t("grad.norm", [rows, c.hiddenSize]),
    act: t("grad.act", [rows, c.intermediateSize]),
    gate: t("grad.gate", [rows, c.intermediateSize]),
    up: t("grad.up", [rows, c.intermediateSize]),
    att: t("grad.att", [rows, qWidth]),
    qRot: t("grad.q_rot", [rows, qWidth]),
    kRot: t("grad.k_rot", [rows, kvWidth]),
    q: t("grad.q", [rows, qWidth]),
    k: t("grad.k", [rows, kvWidth]),
    v: t("grad.v", [rows, kvWidth]),
  };
  const grad = (name: string) => model.grads.get(name);
  const out: Dispatch[] = [
    ...await crossEntropyBackward(gpu, {
      dlogits: d.logits,
      logits: a.head.logits,
      labels: a.labels,
      lse: a.lse,
      stats: a.stats,
      rows,
      vocab: c.vocabSize,
      lossScale: a.lossScale,
    }),
    ...await model.linear("lm_head").backward(gpu, {
      dx: d.norm,
      accumulateDx: false,
      dy: d.logits,
      x: a.head.nf,
      rows,
      training: true,
    }),
    ...await rmsnormBackward(gpu, {
      dx: d.resid,
      dweight: grad("model.norm.weight"),
      dout: d.norm,
      x: a.x,
      weight: model.weight("model.norm.weight"),
      rstd: a.head.rstdf,
      rows,
      dim: c.hiddenSize,
    }),
  ];
  for (let l = c.numHiddenLayers - 1; l >= 0; l--) {
    out.push(...await layerBackward(model, l, a.layers[l]!, d, a.shape));
  }
  const embedGrad = grad("model.embed_tokens.weight");
  if (embedGrad) {
    out.push(
      ...await embeddingBackward(gpu, {
        dtable: embedGrad,
        dout: d.resid,
        order: a.order,
        starts: a.starts,
        vocab: c.vocabSize,
        dim: c.hiddenSize,
        tokens: rows,
        accumulate: c.tieWordEmbeddings,
      }),
    );
  }
  return out;
}

/** Backward of decoder layer `l`: on entry `d.resid` holds ∂L/∂(layer output); on exit ∂L/∂(layer input). */
async function layerBackward(
  model: LlamaModel,
  l: number,
  acts: LayerActivations,
  d: Record<"resid" | "norm" | "act" | "gate" | "up" | "att" | "qRot" | "kRot" | "q" | "k" | "v", Tensor>,
  shape: { batch: number; queryLen: number },
): Promise<Dispatch[]> {
  const gpu = model.gpu;
  const c = model.config;
  const rows = shape.batch * shape.queryLen;
  const proj = (p: Parameters<typeof projectionPath>[1]) => model.linear(projectionPath(l, p));
  const backward = (p: Projection, a: Omit<LinearBackwardArgs, "rows" | "training">) =>
    proj(p).backward(gpu, { ...a, rows, training: true });
  const normName = (n: string) => `model.layers.${l}.${n}.weight`;
  const rope = { batch: shape.batch, seqLen: shape.queryLen, headDim: c.headDim, theta: c.ropeTheta };
  const parts: Dispatch[][] = [
    await backward("down_proj", { dx: d.act, accumulateDx: false, dy: d.resid, x: acts.act }),
    await swigluBackward(gpu, {
      dgate: d.gate,
      dup: d.up,
      dout: d.act,
      gate: acts.gate,
      up: acts.up,
      n: rows * c.intermediateSize,
    }),
    await backward("gate_proj", { dx: d.norm, accumulateDx: false, dy: d.gate, x: acts.n2 }),
    await backward("up_proj", { dx: d.norm, accumulateDx: true, dy: d.up, x: acts.n2 }),
    await rmsnormBackward(gpu, {
      dx: d.resid,
      dweight: model.grads.get(normName("post_attention_layernorm")),
      dout: d.norm,
      x: acts.h,
      weight: model.weight(normName("post_attention_layernorm")),
      rstd: acts.rstd2,
      rows,
      dim: c.hiddenSize,
      accumulateDx: true,
    }),
    await backward("o_proj", { dx: d.att, accumulateDx: false, dy: d.resid, x: acts.att }),
    await attentionBackward(gpu, {
      dq: d.qRot,
      dk: d.kRot,
      dv: d.v,
      dout: d.att,
      out: acts.att,
      lse: acts.lse,
      q: acts.q,
      k: acts.k,
      v: acts.v,
      batch: shape.batch,
      seqLen: shape.queryLen,
      heads: c.numAttentionHeads,
      kvHeads: c.numKeyValueHeads,
      headDim: c.headDim,
    }),
    await ropeBackward(gpu, { dx: d.q, dout: d.qRot, heads: c.numAttentionHeads, ...rope }),
    await ropeBackward(gpu, { dx: d.k, dout: d.kRot, heads: c.numKeyValueHeads, ...rope }),
    await backward("q_proj", { dx: d.norm, accumulateDx: false, dy: d.q, x: acts.n1 }),
    await backward("k_proj", { dx: d.norm, accumulateDx: true, dy: d.k, x: acts.n1 }),
    await backward("v_proj", { dx: d.norm, accumulateDx: true, dy: d.v, x: acts.n1 }),
    await rmsnormBackward(gpu, {
      dx: d.resid,
      dweight: model.grads.get(normName("input_layernorm")),
      dout: d.norm,
      x: acts.x,
      weight: model.weight(normName("input_layernorm")),
      rstd: acts.rstd1,
      rows,
      dim: c.hiddenSize,
      accumulateDx: true,
    }),
  ];
  return parts.flat();
}

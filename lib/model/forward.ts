/**
 * The forward pass of the token embedding, of one LLaMA decoder layer and of the model head, as dispatch plans. Shared by the
 * training plan (`train_plan.ts`, which also keeps every activation for the backward pass) and the cached
 * steps of generation and continuation scoring (`cached_step.ts`, which write keys and values into a KV
 * cache).
 *
 * @module
 */

import type { Gpu } from "../gpu/device.ts";
import type { Dispatch } from "../gpu/kernel.ts";
import { ownedAllocator, type Tensor } from "../gpu/tensor.ts";
import { attentionForward } from "../ops/attention.ts";
import { addScaledForward } from "../ops/elementwise.ts";
import { embeddingForward } from "../ops/embedding.ts";
import { rmsnormForward } from "../ops/rmsnorm.ts";
import { ropeForward } from "../ops/rope.ts";
import { swigluForward } from "../ops/swiglu.ts";
import { type LlamaModel, projectionPath } from "./llama.ts";

/** Activations of one layer for `rows = batch·queryLen` tokens; the training plan keeps them all. */
export interface LayerActivations {
  /** Layer input, the residual stream (rows, hidden). */
  x: Tensor;
  /** input_layernorm output (rows, hidden) and its 1/rms cache (rows). */
  n1: Tensor;
  rstd1: Tensor;
  /** Rotated queries (rows, heads·headDim). */
  q: Tensor;
  /** Rotated keys and values (rows, kvHeads·headDim) — in generation, the layer's KV cache. */
  k: Tensor;
  v: Tensor;
  /** Attention output before o_proj (rows, heads·headDim) and its logsumexp cache (batch, heads, queryLen). */
  att: Tensor;
  lse: Tensor;
  /** Residual after attention (rows, hidden). */
  h: Tensor;
  /** post_attention_layernorm output and cache. */
  n2: Tensor;
  rstd2: Tensor;
  /** gate_proj and up_proj outputs and silu(gate)·up (rows, intermediate). */
  gate: Tensor;
  up: Tensor;
  act: Tensor;
  /** Layer output (rows, hidden): the next layer's `x`. */
  out: Tensor;
}

/** Token layout of one forward call. */
export interface ForwardShape {
  /** Sequences in the batch. */
  batch: number;
  /** New tokens per sequence in this call. */
  queryLen: number;
  /** Position of the first new token (0 in training; the cache length in generation). */
  positionOffset: number;
  /** Key/value rows per sequence in `k`/`v` (= queryLen in training; the cache size in generation). */
  keyCapacity: number;
}

/** Buffers that are rewritten by every layer and not needed by the backward pass. */
export interface ForwardScratch {
  /** Unrotated q and k projections. */
  qRaw: Tensor;
  kRaw: Tensor;
  /** Rotated keys and values of the new tokens, only in generation (training writes them into `k`/`v`). */
  kNew?: Tensor;
  vNew?: Tensor;
  /** o_proj output and down_proj output (rows, hidden). */
  attnProj: Tensor;
  mlpOut: Tensor;
}

/** Allocates the scratch buffers of {@link layerForward}; `owned` collects them for destruction. */
export function allocateScratch(
  model: LlamaModel,
  rows: number,
  owned: Tensor[],
  withKvCache: boolean,
): ForwardScratch {
  const c = model.config;
  const t = ownedAllocator(model.gpu, owned);
  return {
    qRaw: t("scratch.q", [rows, c.numAttentionHeads * c.headDim]),
    kRaw: t("scratch.k", [rows, c.numKeyValueHeads * c.headDim]),
    kNew: withKvCache ? t("scratch.k_new", [rows, c.numKeyValueHeads * c.headDim]) : undefined,
    vNew: withKvCache ? t("scratch.v_new", [rows, c.numKeyValueHeads * c.headDim]) : undefined,
    attnProj: t("scratch.attn_proj", [rows, c.hiddenSize]),
    mlpOut: t("scratch.mlp_out", [rows, c.hiddenSize]),
  };
}

/**
 * Dispatches of decoder layer `l`. `training` is true in training plans (adapters apply their input dropout)
 * and false in forward-only plans. With `writeKv` (generation) the rotated keys and the values are
 * written into `acts.k`/`acts.v` (the cache) at `positionOffset` and attention reads the whole cache prefix.
 */
export async function layerForward(
  model: LlamaModel,
  l: number,
  acts: LayerActivations,
  scratch: ForwardScratch,
  shape: ForwardShape,
  training: boolean,
  writeKv?: (key: Tensor, value: Tensor) => Promise<Dispatch[]>,
): Promise<Dispatch[]> {
  const gpu = model.gpu;
  const c = model.config;
  const rows = shape.batch * shape.queryLen;
  const w = (name: string) => model.weight(`model.layers.${l}.${name}.weight`);
  const proj = (p: Parameters<typeof projectionPath>[1]) => model.linear(projectionPath(l, p));
  const rope = { batch: shape.batch, seqLen: shape.queryLen, headDim: c.headDim, theta: c.ropeTheta };
  const vTarget = writeKv ? scratch.vNew! : acts.v;
  const kRotated = writeKv ? scratch.kNew! : acts.k;
  const parts: Dispatch[][] = [
    await rmsnormForward(gpu, {
      out: acts.n1,
      rstd: acts.rstd1,
      x: acts.x,
      weight: w("input_layernorm"),
      rows,
      dim: c.hiddenSize,
      eps: c.rmsNormEps,
    }),
    await proj("q_proj").forward(gpu, { out: scratch.qRaw, x: acts.n1, rows, training }),
    await proj("k_proj").forward(gpu, { out: scratch.kRaw, x: acts.n1, rows, training }),
    await proj("v_proj").forward(gpu, { out: vTarget, x: acts.n1, rows, training }),
    await ropeForward(gpu, {
      out: acts.q,
      x: scratch.qRaw,
      heads: c.numAttentionHeads,
      positionOffset: shape.positionOffset,
      ...rope,
    }),
    await ropeForward(gpu, {
      out: kRotated,
      x: scratch.kRaw,
      heads: c.numKeyValueHeads,
      positionOffset: shape.positionOffset,
      ...rope,
    }),
    writeKv ? await writeKv(kRotated, vTarget) : [],
    await attentionForward(gpu, {
      out: acts.att,
      lse: acts.lse,
      q: acts.q,
      k: acts.k,
      v: acts.v,
      batch: shape.batch,
      queryLen: shape.queryLen,
      keyLen: shape.positionOffset + shape.queryLen,
      keyCapacity: shape.keyCapacity,
      heads: c.numAttentionHeads,
      kvHeads: c.numKeyValueHeads,
      headDim: c.headDim,
    }),
    await proj("o_proj").forward(gpu, { out: scratch.attnProj, x: acts.att, rows, training }),
    [await addScaledForward(gpu, { out: acts.h, a: acts.x, b: scratch.attnProj, alpha: 1, beta: 1 })],
    await rmsnormForward(gpu, {
      out: acts.n2,
      rstd: acts.rstd2,
      x: acts.h,
      weight: w("post_attention_layernorm"),
      rows,
      dim: c.hiddenSize,
      eps: c.rmsNormEps,
    }),
    await proj("gate_proj").forward(gpu, { out: acts.gate, x: acts.n2, rows, training }),
    await proj("up_proj").forward(gpu, { out: acts.up, x: acts.n2, rows, training }),
    await swigluForward(gpu, { out: acts.act, gate: acts.gate, up: acts.up, n: rows * c.intermediateSize }),
    await proj("down_proj").forward(gpu, { out: scratch.mlpOut, x: acts.act, rows, training }),
    [await addScaledForward(gpu, { out: acts.out, a: acts.h, b: scratch.mlpOut, alpha: 1, beta: 1 })],
  ];
  return parts.flat();
}

/** Allocates one layer's activations for `rows` tokens (k/v given for generation, where they are the cache). */
export function allocateLayer(
  model: LlamaModel,
  l: number,
  shape: ForwardShape,
  x: Tensor,
  owned: Tensor[],
  cache?: { k: Tensor; v: Tensor },
): LayerActivations {
  const c = model.config;
  const rows = shape.batch * shape.queryLen;
  const t = ownedAllocator(model.gpu, owned, `layers.${l}.`);
  const qWidth = c.numAttentionHeads * c.headDim;
  const kvWidth = c.numKeyValueHeads * c.headDim;
  return {
    x,
    n1: t("n1", [rows, c.hiddenSize]),
    rstd1: t("rstd1", [rows]),
    q: t("q", [rows, qWidth]),
    k: cache?.k ?? t("k", [rows, kvWidth]),
    v: cache?.v ?? t("v", [rows, kvWidth]),
    att: t("att", [rows, qWidth]),
    lse: t("lse", [shape.batch, c.numAttentionHeads, shape.queryLen]),
    h: t("h", [rows, c.hiddenSize]),
    n2: t("n2", [rows, c.hiddenSize]),
    rstd2: t("rstd2", [rows]),
    gate: t("gate", [rows, c.intermediateSize]),
    up: t("up", [rows, c.intermediateSize]),
    act: t("act", [rows, c.intermediateSize]),
    out: t("out", [rows, c.hiddenSize]),
  };
}

/** Token embedding of `rows` ids into `out` (rows, hidden). */
export async function embedForward(
  model: LlamaModel,
  out: Tensor,
  ids: Tensor,
  rows: number,
): Promise<Dispatch[]> {
  const c = model.config;
  return await embeddingForward(model.gpu, {
    out,
    ids,
    table: model.weight("model.embed_tokens.weight"),
    tokens: rows,
    dim: c.hiddenSize,
    vocab: c.vocabSize,
  });
}

/** Final norm and LM head: `logits = lm_head(rmsnorm(x))`; `training` as in {@link layerForward}. */
export async function headForward(
  gpu: Gpu,
  model: LlamaModel,
  a: { logits: Tensor; nf: Tensor; rstdf: Tensor; x: Tensor; rows: number; training: boolean },
): Promise<Dispatch[]> {
  const c = model.config;
  return [
    ...await rmsnormForward(gpu, {
      out: a.nf,
      rstd: a.rstdf,
      x: a.x,
      weight: model.weight("model.norm.weight"),
      rows: a.rows,
      dim: c.hiddenSize,
      eps: c.rmsNormEps,
    }),
    ...await model.linear("lm_head").forward(gpu, {
      out: a.logits,
      x: a.nf,
      rows: a.rows,
      training: a.training,
    }),
  ];
}

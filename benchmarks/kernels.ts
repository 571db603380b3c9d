/**
 * The kernel benchmark suite: matmul GFLOP/s (three layouts, square and LLaMA-shaped), our matmul against
 * jax-js's WebAssembly one on the same operands in interleaved rounds, causal attention forward+backward
 * GFLOP/s and RMSNorm forward+backward GB/s, timed with `measure`.
 *
 * @module
 */

import type { Gpu } from "../lib/gpu/device.ts";
import type { Dispatch } from "../lib/gpu/kernel.ts";
import { createTensor, readTensor, type Tensor } from "../lib/gpu/tensor.ts";
import {
  attentionFlops,
  matmulFlops,
  recordGflops,
  recordGigabytes,
  rmsnormBytes,
} from "../lib/harness/kernel_records.ts";
import type { KernelRecord } from "../lib/records.ts";
import type { BenchContext, BenchSuite } from "../lib/harness/suite.ts";
import { dispatchRepeater, gflopsPerSecond, measure, measureInterleaved } from "../lib/harness/timing.ts";
import { attentionBackward, attentionForward } from "../lib/ops/attention.ts";
import { matmul } from "../lib/ops/matmul.ts";
import { rmsnormBackward, rmsnormForward } from "../lib/ops/rmsnorm.ts";
import { formatCell } from "../lib/report/model.ts";
import { kernelsSection } from "../lib/report/kernels_section.ts";
import { JAXJS_WASM, jaxWasmMatmul } from "./jaxjs_peer.ts";

type Layout = "nt" | "nn" | "tn";
const LAYOUTS: readonly Layout[] = ["nt", "nn", "tn"];

/** A matmul case: out[M,N] from a K-long inner product. */
interface MatmulCase {
  layout: Layout;
  m: number;
  n: number;
  k: number;
}

/** The matmul cases: squares in every layout, LLaMA rectangles, and 7B's MLP on real GPUs only. */
function matmulCases(ctx: BenchContext): MatmulCase[] {
  const squares = ctx.quick ? [128, 256] : [256, 512, 1024];
  const shapes = [
    ...squares.map((s) => ({ m: s, n: s, k: s })),
    { m: 512, n: 512, k: 128 }, // tokens × hidden → hidden, tiny-model projection
    { m: 512, n: 128, k: 512 }, // the reverse (down projection)
  ];
  const cases = shapes.flatMap((shape) => LAYOUTS.map((layout) => ({ layout, ...shape })));
  if (!ctx.quick && !ctx.gpu.adapter.isFallbackAdapter) {
    cases.push({ layout: "nt", m: 2048, n: 11008, k: 4096 });
  }
  return cases;
}

function matmulLabel(c: MatmulCase): string {
  return c.m === c.n && c.n === c.k ? `${c.layout} ${c.m}³` : `${c.layout} ${c.m}×${c.n}×${c.k}`;
}

/** `size` uniform values in [-1, 1) from a fixed-seed LCG (contents do not matter, only size). */
function randomValues(size: number): Float32Array<ArrayBuffer> {
  const data = new Float32Array(size);
  let state = 12345;
  for (let i = 0; i < size; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    data[i] = state / 2147483648 - 1;
  }
  return data;
}

/** A tensor of {@link randomValues}. */
function randomTensor(gpu: Gpu, name: string, shape: number[]): Tensor {
  return createTensor(gpu, name, shape, randomValues(shape.reduce((a, b) => a * b, 1)));
}

/** Builds the dispatches on fresh tensors, times them, and frees the tensors whatever happens. */
async function timeCase(
  ctx: BenchContext,
  tensors: Tensor[],
  build: () => Promise<Dispatch[]>,
): Promise<KernelRecord["timing"]> {
  try {
    return await measure(dispatchRepeater(ctx.gpu, await build()), ctx.timing);
  } finally {
    for (const t of tensors) t.destroy();
  }
}

async function benchMatmul(ctx: BenchContext, c: MatmulCase): Promise<KernelRecord> {
  const { gpu } = ctx;
  const a = randomTensor(gpu, "a", c.layout === "tn" ? [c.k, c.m] : [c.m, c.k]);
  const b = randomTensor(gpu, "b", c.layout === "nt" ? [c.n, c.k] : [c.k, c.n]);
  const out = createTensor(gpu, "out", [c.m, c.n]);
  const timing = await timeCase(ctx, [a, b, out], () => matmul(gpu, { out, a, b, ...c }));
  return {
    op: "matmul",
    label: matmulLabel(c),
    params: { ...c },
    pass: "forward",
    flops: matmulFlops(c.m, c.n, c.k),
    bytes: 0,
    timing,
  };
}

/**
 * Our `"nn"` matmul of a size³ product and jax-js's WebAssembly one (`benchmarks/jaxjs_peer.ts`) on the same
 * operands, timed in interleaved rounds so the ratio can be paired round by round; refuses to time them if
 * their products differ.
 */
async function benchMatmulPeer(ctx: BenchContext, size: number): Promise<KernelRecord> {
  const { gpu } = ctx;
  const c = { layout: "nn" as const, m: size, n: size, k: size };
  const [aValues, bValues] = [randomValues(size * size), randomValues(size * size).reverse()];
  const a = createTensor(gpu, "a", [size, size], aValues);
  const b = createTensor(gpu, "b", [size, size], bValues);
  const out = createTensor(gpu, "out", [size, size]);
  const peer = await jaxWasmMatmul(aValues, bValues, size, size, size);
  try {
    const ours = dispatchRepeater(gpu, await matmul(gpu, { out, a, b, ...c }));
    await ours(1);
    checkSameProduct(await readTensor(out), await peer.product());
    const [timing, peerTiming] = await measureInterleaved([ours, peer.work], {
      ...ctx.timing,
      rounds: ctx.quick ? 3 : PEER_ROUNDS,
    });
    return {
      op: "matmul-peer",
      label: `nn ${size}³ vs ${JAXJS_WASM}`,
      params: { ...c },
      pass: "forward",
      flops: matmulFlops(size, size, size),
      bytes: 0,
      timing: timing!,
      peer: { name: JAXJS_WASM, timing: peerTiming! },
    };
  } finally {
    peer.dispose();
    for (const t of [a, b, out]) t.destroy();
  }
}

/** Interleaved rounds of the matmul-peer comparison: enough for the quartiles of a paired ratio. */
const PEER_ROUNDS = 8;

/** Throws unless two float32 products agree to 1e-4 of their largest magnitude. */
function checkSameProduct(ours: Float32Array, theirs: Float32Array): void {
  let scale = 0, diff = 0;
  for (let i = 0; i < ours.length; i++) {
    scale = Math.max(scale, Math.abs(theirs[i]!));
    diff = Math.max(diff, Math.abs(ours[i]! - theirs[i]!));
  }
  if (ours.length !== theirs.length || !(diff <= 1e-4 * scale)) {
    throw new Error(
      `The matmul peer's product differs from ours (largest difference ${diff}, scale ${scale})`,
    );
  }
}

/** An attention case (heads = kvHeads). */
interface AttentionCase {
  batch: number;
  seqLen: number;
  heads: number;
  headDim: number;
}

async function benchAttention(ctx: BenchContext, c: AttentionCase): Promise<KernelRecord> {
  const { gpu } = ctx;
  const { batch, seqLen, heads, headDim } = c;
  const shape = [batch, seqLen, heads, headDim];
  const q = randomTensor(gpu, "q", shape);
  const k = randomTensor(gpu, "k", shape);
  const v = randomTensor(gpu, "v", shape);
  const dout = randomTensor(gpu, "dout", shape);
  const out = createTensor(gpu, "out", shape);
  const [dq, dk, dv] = [
    createTensor(gpu, "dq", shape),
    createTensor(gpu, "dk", shape),
    createTensor(gpu, "dv", shape),
  ];
  const lse = createTensor(gpu, "lse", [batch, heads, seqLen]);
  const sizes = { batch, heads, kvHeads: heads, headDim };
  const lengths = { queryLen: seqLen, keyLen: seqLen, keyCapacity: seqLen };
  const timing = await timeCase(ctx, [q, k, v, dout, out, dq, dk, dv, lse], async () => [
    ...await attentionForward(gpu, { out, lse, q, k, v, ...sizes, ...lengths }),
    ...await attentionBackward(gpu, { dq, dk, dv, dout, out, lse, q, k, v, seqLen, ...sizes }),
  ]);
  const flops = attentionFlops(c);
  return {
    op: "attention",
    label: `B${batch} T${seqLen} H${heads} D${headDim}`,
    params: { ...c },
    pass: "forward+backward",
    flops: flops.forward + flops.backward,
    bytes: 0,
    timing,
  };
}

async function benchRmsnorm(ctx: BenchContext, rows: number, dim: number): Promise<KernelRecord> {
  const { gpu } = ctx;
  const x = randomTensor(gpu, "x", [rows, dim]);
  const dout = randomTensor(gpu, "dout", [rows, dim]);
  const weight = randomTensor(gpu, "weight", [dim]);
  const out = createTensor(gpu, "out", [rows, dim]);
  const dx = createTensor(gpu, "dx", [rows, dim]);
  const dweight = createTensor(gpu, "dweight", [dim]);
  const rstd = createTensor(gpu, "rstd", [rows]);
  const timing = await timeCase(ctx, [x, dout, weight, out, dx, dweight, rstd], async () => [
    ...await rmsnormForward(gpu, { out, rstd, x, weight, rows, dim, eps: 1e-5 }),
    ...await rmsnormBackward(gpu, { dx, dweight, dout, x, weight, rstd, rows, dim }),
  ]);
  return {
    op: "rmsnorm",
    label: `${rows}×${dim}`,
    params: { rows, dim },
    pass: "forward+backward",
    flops: 0,
    bytes: rmsnormBytes(rows, dim),
    timing,
  };
}

/** Every case of the suite as a label and a thunk, so progress can count them. */
function allCases(ctx: BenchContext): { label: string; run: () => Promise<KernelRecord> }[] {
  const attention = ctx.quick
    ? [{ batch: 2, seqLen: 64, heads: 4, headDim: 32 }]
    : [64, 256].map((seqLen) => ({ batch: 8, seqLen, heads: 4, headDim: 32 }));
  const norms: [number, number][] = ctx.quick
    ? [[512, 128]]
    : [[512, 128], [512, 4096], [4096, 128], [4096, 4096]];
  const peerSize = ctx.quick ? 256 : 1024;
  return [
    ...matmulCases(ctx).map((c) => ({ label: `matmul ${matmulLabel(c)}`, run: () => benchMatmul(ctx, c) })),
    { label: `matmul nn ${peerSize}³ vs ${JAXJS_WASM}`, run: () => benchMatmulPeer(ctx, peerSize) },
    ...attention.map((c) => ({
      label: `attention B${c.batch} T${c.seqLen} H${c.heads} D${c.headDim}`,
      run: () => benchAttention(ctx, c),
    })),
    ...norms.map(([rows, dim]) => ({
      label: `rmsnorm ${rows}×${dim}`,
      run: () => benchRmsnorm(ctx, rows, dim),
    })),
  ];
}

function summary(record: KernelRecord): string {
  const gflops = recordGflops(record);
  const gbps = recordGigabytes(record);
  const rate = gflops !== null ? `${formatCell(gflops)} GFLOP/s` : `${formatCell(gbps)} GB/s`;
  const { meanMs, bestMs, repetitions } = record.timing;
  const peer = record.peer
    ? `; ${record.peer.name} ${
      formatCell(gflopsPerSecond(record.flops, record.peer.timing.bestMs))
    } GFLOP/s best`
    : "";
  return `${formatCell(bestMs)} ms best, ${formatCell(meanMs)} ms mean (R=${repetitions}), ${rate}${peer}`;
}

/** The kernel suite: matmul, attention and RMSNorm throughput. */
export const kernelSuite: BenchSuite<KernelRecord> = {
  name: "kernels",
  description: "matmul, causal attention and RMSNorm throughput",
  async run(ctx) {
    const cases = allCases(ctx);
    const records: KernelRecord[] = [];
    for (const [i, c] of cases.entries()) {
      ctx.progress(`  ${i + 1}/${cases.length} ${c.label} ...`);
      const record = await c.run();
      ctx.progress(`  ${i + 1}/${cases.length} ${c.label}: ${summary(record)}`);
      records.push(record);
    }
    return records;
  },
  section: kernelsSection,
};

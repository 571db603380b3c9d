/**
 * Matmul throughput probe: GFLOP/s of {@link matmul} per layout at 256³, 512³, 1024³ and the
 * LLaMA-shaped rectangles of the training benchmark. Each timing encodes `reps` repetitions into one
 * command buffer and waits once (a queue wait costs ~11 ms on llvmpipe), after a warmup; the best of
 * `trials` is printed, since the machine may be shared. In parentheses: GFLOP/s over this process's CPU
 * time divided by the core count, an estimate for a machine nobody else is using.
 *
 * Usage: `deno run benchmarks/matmul_probe.ts [--tiles=32x32,16x16] [--wg=8] [--only=512³] [--shape=512x8x128]`
 * (`--tiles` compares register tiles side by side instead of the default choice; `--only` keeps
 * the shapes whose label contains the text; `--shape` probes the given m×n×k shapes instead).
 *
 * @module
 */

import process from "node:process";
import { parseArgs } from "node:util";
import { requestGpu } from "../lib/gpu/device.ts";
import { type Dispatch, encodeDispatches } from "../lib/gpu/kernel.ts";
import { createTensor } from "../lib/gpu/tensor.ts";
import { matmul, type MatmulLayout, type MatmulTiling } from "../lib/ops/matmul.ts";

/** One probed product: out (m, n) with inner length k. */
interface Shape {
  label: string;
  m: number;
  n: number;
  k: number;
}

const SQUARES: Shape[] = [256, 512, 1024].map((s) => ({ label: `${s}³`, m: s, n: s, k: s }));
// Odd sizes take the scalar (general) kernel.
const UNALIGNED: Shape[] = [{ label: "511³ (scalar path)", m: 511, n: 511, k: 511 }];
// Training benchmark shapes: linear forwards (rows 512) and the "tn" weight gradients over 512 tokens.
const RECTANGLES: Shape[] = [
  { label: "(512×128)·(128×128)ᵀ", m: 512, n: 128, k: 128 },
  { label: "(512×128)·(512×128)ᵀ", m: 512, n: 512, k: 128 },
  { label: "(512×512)·(128×512)ᵀ", m: 512, n: 128, k: 512 },
  { label: "LM head (512×128)·(256×128)ᵀ", m: 512, n: 256, k: 128 },
  { label: "dW 128×128, k=512", m: 128, n: 128, k: 512 },
  { label: "dW 512×128, k=512", m: 512, n: 128, k: 512 },
  { label: "dW 128×512, k=512", m: 128, n: 512, k: 512 },
];
// LoRA's skinny products at r = 8 over 512 tokens: the down projection x·Aᵀ, the up projection h·Bᵀ, and
// the gradients ∂A, ∂B (weight-gradient shapes; "tn" is the layout they run in).
const LORA: Shape[] = [
  { label: "LoRA down (512×128)·(8×128)ᵀ", m: 512, n: 8, k: 128 },
  { label: "LoRA up (512×8)·(128×8)ᵀ", m: 512, n: 128, k: 8 },
  { label: "LoRA dA 8×128, k=512", m: 8, n: 128, k: 512 },
  { label: "LoRA dB 128×8, k=512", m: 128, n: 8, k: 512 },
];

const gpu = await requestGpu();
// llvmpipe runs one worker thread per core; CPU time over the cores estimates an unshared machine.
const CORES = navigator.hardwareConcurrency;

/** Seconds per repetition: best wall clock, and best CPU time of this process over its cores. */
interface Timing {
  wall: number;
  cpu: number;
}

/** Best seconds per repetition of `plan` over `trials` submissions of `reps` repetitions each. */
async function secondsPerRep(plan: Dispatch[], reps: number, trials: number): Promise<Timing> {
  const submit = async (count: number) => {
    const encoder = gpu.device.createCommandEncoder();
    for (let i = 0; i < count; i++) encodeDispatches(encoder, plan);
    gpu.device.queue.submit([encoder.finish()]);
    await gpu.device.queue.onSubmittedWorkDone();
  };
  await submit(1);
  const best = { wall: Infinity, cpu: Infinity };
  for (let t = 0; t < trials; t++) {
    const cpuStart = process.cpuUsage();
    const start = performance.now();
    await submit(reps);
    best.wall = Math.min(best.wall, (performance.now() - start) / 1000 / reps);
    const cpu = process.cpuUsage(cpuStart);
    best.cpu = Math.min(best.cpu, (cpu.user + cpu.system) / 1e6 / reps / CORES);
  }
  return best;
}

/** GFLOP/s (wall clock, CPU time) of one layout and shape, with the given tiling or the default one. */
async function probe(layout: MatmulLayout, shape: Shape, tiling?: MatmulTiling): Promise<[number, number]> {
  const { m, n, k } = shape;
  const a = createTensor(gpu, "probe.a", [m * k], new Float32Array(m * k).fill(0.5));
  const b = createTensor(gpu, "probe.b", [n * k], new Float32Array(n * k).fill(0.25));
  const out = createTensor(gpu, "probe.out", [m * n]);
  const plan = await matmul(gpu, { out, a, b, layout, m, n, k, ...(tiling ? { tiling } : {}) });
  const flops = 2 * m * n * k;
  // Aim for ~0.3 s of work per trial so the ~11 ms queue wait stays small.
  const reps = Math.max(3, Math.min(200, Math.round(0.3 / (flops / 20e9))));
  const seconds = await secondsPerRep(plan, reps, 3);
  for (const t of [a, b, out]) t.destroy();
  return [flops / seconds.wall / 1e9, flops / seconds.cpu / 1e9];
}

const flags = parseArgs({
  args: Deno.args,
  options: {
    tiles: { type: "string" },
    wg: { type: "string" },
    only: { type: "string" },
    shape: { type: "string" },
  },
});
const wg = Number(flags.values.wg ?? 64);
const tilings: (MatmulTiling | undefined)[] = flags.values.tiles
  ? flags.values.tiles.split(",").map((t) => {
    const [tm, tn] = t.split("x").map(Number);
    return { tm: tm!, tn: tn!, wg };
  })
  : [undefined];

console.log(`adapter: ${gpu.adapter.description} (fallback: ${gpu.adapter.isFallbackAdapter})`);
const custom = flags.values.shape?.split(",").map((text): Shape => {
  const [m, n, k] = text.split("x").map(Number);
  return { label: `${m}×${n}, k=${k}`, m: m!, n: n!, k: k! };
});
const shapes = custom ??
  [...SQUARES, ...UNALIGNED, ...RECTANGLES, ...LORA].filter((s) => s.label.includes(flags.values.only ?? ""));
for (const shape of shapes) {
  for (const tiling of tilings) {
    const cells: string[] = [];
    for (const layout of ["nt", "nn", "tn"] as const) {
      const [wall, cpu] = await probe(layout, shape, tiling);
      cells.push(`${layout} ${wall.toFixed(1).padStart(5)} (${cpu.toFixed(1).padStart(5)})`);
    }
    const tile = tiling ? ` [${tiling.tm}x${tiling.tn}/${tiling.wg}]` : "";
    console.log(`${(shape.label + tile).padEnd(40)} GFLOP/s: ${cells.join("  ")}`);
  }
}
gpu.device.destroy();

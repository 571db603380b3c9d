/**
 * Reduction-width probe: times the ops whose workgroups reduce through a barrier tree (cross-entropy
 * forward, RMSNorm forward + backward, the gradient norm) at several widths (threads per workgroup),
 * interleaved round by round, on the training benchmark's shapes. The ops' defaults come from it: on a CPU
 * adapter (llvmpipe) a workgroup's 8-lane SIMD rows run as coroutines and every barrier switches all of
 * them, so narrow workgroups win there.
 *
 * Usage: `deno run -A benchmarks/reduction_width.ts [--widths=8,16,64,256] [--rounds=5]`
 *
 * @module
 */

import { parseArgs } from "node:util";
import { requestGpu } from "../lib/gpu/device.ts";
import type { Dispatch } from "../lib/gpu/kernel.ts";
import { createTensor } from "../lib/gpu/tensor.ts";
import { dispatchRepeater, measureInterleaved } from "../lib/harness/timing.ts";
import { crossEntropyForward } from "../lib/ops/cross_entropy.ts";
import { gradNorm } from "../lib/ops/grad_norm.ts";
import { rmsnormBackward, rmsnormForward } from "../lib/ops/rmsnorm.ts";

const flags = parseArgs({
  args: Deno.args,
  options: { widths: { type: "string" }, rounds: { type: "string" } },
});
const widths = (flags.values.widths ?? "8,16,64,256").split(",").map(Number);
const rounds = Number(flags.values.rounds ?? 5);
const gpu = await requestGpu();
const filled = (name: string, size: number) =>
  createTensor(gpu, name, [size], Float32Array.from({ length: size }, (_, i) => Math.sin(i)));

/** One probed case: a label and the dispatches at a given width. */
interface Case {
  label: string;
  build(threads: number): Promise<Dispatch[]>;
}

function crossEntropyCase(rows: number, vocab: number): Case {
  const logits = filled("logits", rows * vocab);
  const labels = createTensor(gpu, "labels", [rows], Int32Array.from({ length: rows }, (_, i) => i % vocab));
  const [rowLoss, lse, stats] = [filled("rowLoss", rows), filled("lse", rows), filled("stats", 2)];
  return {
    label: `cross-entropy forward ${rows}×${vocab}`,
    build: (threads) =>
      crossEntropyForward(gpu, { rowLoss, lse, stats, logits, labels, rows, vocab, threads }),
  };
}

function rmsnormCase(rows: number, dim: number): Case {
  const [x, dout, out, dx] = ["x", "dout", "out", "dx"].map((name) => filled(name, rows * dim));
  const [weight, dweight, rstd] = [filled("weight", dim), filled("dweight", dim), filled("rstd", rows)];
  const shape = { x: x!, weight, rstd, rows, dim };
  return {
    label: `RMSNorm forward + backward ${rows}×${dim}`,
    build: async (threads) => [
      ...await rmsnormForward(gpu, { ...shape, out: out!, eps: 1e-5, threads }),
      ...await rmsnormBackward(gpu, { ...shape, dx: dx!, dweight, dout: dout!, accumulateDx: true, threads }),
    ],
  };
}

function gradNormCase(sizes: number[]): Case {
  const grads = sizes.map((n, i) => filled(`grad${i}`, n));
  return {
    label: `gradient norm of ${sizes.length} tensors (${sizes.join(", ")})`,
    build: (threads) => gradNorm(gpu, { out: filled("out", 2), grads, maxNorm: 1, threads }),
  };
}

// The reference and medium training configs: 512 and 256 tokens, hidden 128 and 512, vocabulary 256.
const cases = [
  crossEntropyCase(512, 256),
  crossEntropyCase(256, 256),
  crossEntropyCase(64, 32000),
  rmsnormCase(512, 128),
  rmsnormCase(256, 512),
  gradNormCase([32768, 16384, 65536, 65536, 65536, 128, 128]),
];
console.log(`adapter: ${gpu.adapter.description}; ${rounds} interleaved rounds, best ms per repetition`);
for (const c of cases) {
  const works = await Promise.all(widths.map(async (w) => dispatchRepeater(gpu, await c.build(w))));
  const timings = await measureInterleaved(works, { rounds, targetMs: 100 });
  const cells = widths.map((w, i) => `${w}: ${timings[i]!.bestMs.toFixed(3)}`);
  console.log(`${c.label.padEnd(58)} ${cells.join("  ")}`);
}
gpu.device.destroy();

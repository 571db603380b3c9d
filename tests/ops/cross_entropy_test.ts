import { deepStrictEqual as assertEquals, rejects } from "node:assert/strict";
import type { Gpu } from "../../lib/gpu/device.ts";
import { runDispatches } from "../../lib/gpu/kernel.ts";
import { createTensor, readTensor, readTensorU32 } from "../../lib/gpu/tensor.ts";
import {
  crossEntropyBackward,
  crossEntropyBackwardCpu,
  crossEntropyForward,
  crossEntropyForwardCpu,
  IGNORE_INDEX,
} from "../../lib/ops/cross_entropy.ts";
import { assertAllClose, numericGradient, randomF64, Rng } from "../_numeric.ts";
import { gpuTest, testGpu } from "../_gpu.ts";
import { readSafetensors } from "../../lib/io/safetensors.ts";

/** What one GPU forward + backward run produced, read back. */
interface CeRun {
  rowLoss: Float32Array;
  lse: Float32Array;
  stats: Float32Array;
  dlogits: Float32Array;
  /** Raw bits of stats and dlogits, for the determinism check. */
  bits: Uint32Array[];
}

/** Runs forward then backward on the GPU as one command buffer and reads everything back. */
async function runCrossEntropy(
  gpu: Gpu,
  logits: Float32Array<ArrayBuffer>,
  labels: Int32Array<ArrayBuffer>,
  vocab: number,
  lossScale: number,
  threads?: number,
): Promise<CeRun> {
  const rows = labels.length;
  const tLogits = createTensor(gpu, "logits", [rows, vocab], logits);
  const tLabels = createTensor(gpu, "labels", [rows], labels);
  const rowLoss = createTensor(gpu, "rowLoss", [rows]);
  const lse = createTensor(gpu, "lse", [rows]);
  const stats = createTensor(gpu, "stats", [2]);
  const dlogits = createTensor(gpu, "dlogits", [rows, vocab]);
  const common = { logits: tLogits, labels: tLabels, rows, vocab };
  await runDispatches(gpu, [
    ...await crossEntropyForward(gpu, { rowLoss, lse, stats, threads, ...common }),
    ...await crossEntropyBackward(gpu, { dlogits, lse, stats, lossScale, ...common }),
  ]);
  const run = {
    rowLoss: await readTensor(rowLoss),
    lse: await readTensor(lse),
    stats: await readTensor(stats),
    dlogits: await readTensor(dlogits),
    bits: [await readTensorU32(stats), await readTensorU32(dlogits)],
  };
  for (const t of [tLogits, tLabels, rowLoss, lse, stats, dlogits]) t.destroy();
  return run;
}

/** Labels in [0, vocab) with roughly `ignoredShare` of the rows set to IGNORE_INDEX. */
function randomLabels(rng: Rng, rows: number, vocab: number, ignoredShare: number): Int32Array<ArrayBuffer> {
  const labels = new Int32Array(rows);
  for (let r = 0; r < rows; r++) labels[r] = rng.next() < ignoredShare ? IGNORE_INDEX : rng.int(vocab);
  return labels;
}

/** Checks a GPU run against the float64 reference; `scale` is the logit magnitude. */
function assertMatchesCpu(
  run: CeRun,
  logits: Float32Array,
  labels: Int32Array,
  vocab: number,
  lossScale: number,
  scale: number,
): void {
  const rows = labels.length;
  const cpu = crossEntropyForwardCpu(logits, labels, rows, vocab);
  // lse and losses are at most M = scale + log(vocab) + 1 in size; float32 exp/log, the online rescaling
  // and the 256-way tree sum keep them within a few ulps of M (ulp ≈ 1.2e-7·M; measured ≤ 1e-6 at
  // M ≈ 10 and ≤ 8e-6 at M ≈ 86), so 4 ulps of M.
  const lossTol = { atol: 5e-7 * (scale + Math.log(vocab) + 1), rtol: 0 };
  assertAllClose(run.lse, cpu.lse, lossTol, "lse");
  assertAllClose(run.rowLoss, cpu.rowLoss, lossTol, "rowLoss");
  assertAllClose(run.stats, [cpu.mean, cpu.count], lossTol, "stats");
  const dCpu = crossEntropyBackwardCpu(logits, labels, rows, vocab, lossScale);
  // Each gradient is (p − onehot)·lossScale/count with p = exp(x − lse) ≤ 1: an lse error δ moves p by
  // p·δ ≤ δ, so the error is bounded by lossTol.atol·lossScale/count.
  const perRow = lossScale / Math.max(cpu.count, 1);
  assertAllClose(run.dlogits, dCpu, { atol: lossTol.atol * perRow, rtol: 0 }, "dlogits");
}

Deno.test({
  name:
    "crossEntropy forward and backward match the CPU reference on awkward shapes, at this device's width and 256",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const rng = new Rng(7);
    const shapes: [number, number][] = [[1, 1], [3, 5], [70, 5], [3, 257], [70, 257], [1, 1000], [3, 1000], [
      2,
      32000,
    ]];
    // The device's own width (8 or 16 on a CPU adapter) and a GPU's 256, so both paths are checked here.
    for (const [[rows, vocab], threads] of shapes.flatMap((s) => [[s, undefined], [s, 256]] as const)) {
      const logits = rng.floats(rows * vocab, -4, 4);
      const labels = randomLabels(rng, rows, vocab, 0.25);
      labels[0] = rng.int(vocab); // at least one counted row
      const run = await runCrossEntropy(gpu, logits, labels, vocab, 0.5, threads);
      assertMatchesCpu(run, logits, labels, vocab, 0.5, 4);
    }
  },
});

Deno.test({
  name: "crossEntropy with every row ignored gives mean 0, count 0 and zero gradients",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const rng = new Rng(8);
    const rows = 70;
    const vocab = 257;
    const labels = new Int32Array(rows).fill(IGNORE_INDEX);
    const run = await runCrossEntropy(gpu, rng.floats(rows * vocab, -4, 4), labels, vocab, 1);
    assertEquals(Array.from(run.stats), [0, 0]);
    assertEquals(Array.from(run.rowLoss), new Array(rows).fill(0));
    // Every gradient must be exactly +0 (no NaN from 0/0, no −0 from a negative product).
    assertEquals(run.bits[1]!.every((word) => word === 0), true);
  },
});

Deno.test({
  name: "crossEntropy stays finite and accurate with extreme logits of ±80",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const rng = new Rng(9);
    for (const [rows, vocab] of [[3, 5], [70, 257], [3, 1000]] as [number, number][]) {
      const logits = new Float32Array(rows * vocab);
      for (let i = 0; i < logits.length; i++) logits[i] = rng.next() < 0.5 ? -80 : 80 * rng.uniform(0.9, 1);
      const labels = randomLabels(rng, rows, vocab, 0.2);
      labels[0] = 0;
      logits[0] = -80; // a counted row whose label logit is the minimum: loss ≈ 160
      const run = await runCrossEntropy(gpu, logits, labels, vocab, 1);
      for (const values of [run.rowLoss, run.lse, run.stats, run.dlogits]) {
        assertEquals(values.every(Number.isFinite), true);
      }
      assertMatchesCpu(run, logits, labels, vocab, 1, 80);
    }
  },
});

Deno.test({
  name: "crossEntropy gives identical bits on two runs",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const rng = new Rng(10);
    const rows = 300;
    const vocab = 1000;
    const logits = rng.floats(rows * vocab, -6, 6);
    const labels = randomLabels(rng, rows, vocab, 0.3);
    const first = await runCrossEntropy(gpu, logits, labels, vocab, 0.25);
    const second = await runCrossEntropy(gpu, logits, labels, vocab, 0.25);
    assertEquals(first.bits, second.bits);
  },
});

Deno.test({
  name: "crossEntropy reproduces torch's loss on the golden llama-tiny logits",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const golden = await readSafetensors("testdata/golden/llama-tiny/case.safetensors");
    const [batch, seq, vocab] = golden.shape("logits") as [number, number, number];
    const labels = golden.int("labels");
    // LlamaForCausalLM shifts: position t predicts labels[t + 1]; the last position predicts nothing.
    const shifted = new Int32Array(batch * seq).fill(IGNORE_INDEX);
    for (let b = 0; b < batch; b++) {
      for (let t = 0; t + 1 < seq; t++) shifted[b * seq + t] = labels[b * seq + t + 1]!;
    }
    const run = await runCrossEntropy(gpu, golden.f32("logits"), shifted, vocab, 1);
    // The float64 logits rounded to float32 move each loss by ≤ 2 ulps of |logit| ≈ 5 (≈ 1e-6); the
    // kernel adds a few ulps of lse: 5e-6 is well below any labelling or shift mistake (≥ 0.1).
    assertAllClose([run.stats[0]!], golden.f64("loss"), { atol: 5e-6, rtol: 0 }, "mean loss");
  },
});

Deno.test("crossEntropyBackwardCpu matches central finite differences of lossScale · mean loss", () => {
  const rng = new Rng(11);
  const rows = 4;
  const vocab = 5;
  const lossScale = 0.7;
  const logits = randomF64(rng, rows * vocab, -3, 3);
  const labels = new Int32Array([2, IGNORE_INDEX, 0, 4]);
  const loss = () => lossScale * crossEntropyForwardCpu(logits, labels, rows, vocab).mean;
  const numeric = numericGradient(loss, logits);
  // Central differences with h = 1e-6 in float64 on a smooth O(1) function: truncation error ~h² and
  // cancellation ~1e-16/h ≈ 1e-10, so 1e-8 separates a right gradient from a wrong one.
  assertAllClose(crossEntropyBackwardCpu(logits, labels, rows, vocab, lossScale), numeric, {
    atol: 1e-8,
    rtol: 1e-6,
  });
});

Deno.test({
  name: "crossEntropy rejects mismatched tensors, naming them",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const logits = createTensor(gpu, "logits", [3, 5]);
    const labels = createTensor(gpu, "labels", [4]);
    const rowLoss = createTensor(gpu, "rowLoss", [3]);
    const lse = createTensor(gpu, "lse", [3]);
    const stats = createTensor(gpu, "stats", [2]);
    const args = { rowLoss, lse, stats, logits, labels, rows: 3, vocab: 5 };
    await rejects(crossEntropyForward(gpu, args), { name: "RangeError", message: /"labels"/ });
    const backwardArgs = { ...args, labels: rowLoss, dlogits: createTensor(gpu, "dlogits", [3, 4]) };
    await rejects(crossEntropyBackward(gpu, backwardArgs), { name: "RangeError", message: /"dlogits"/ });
    await rejects(crossEntropyForward(gpu, { ...args, rows: 0 }), { name: "RangeError", message: /rows 0/ });
    backwardArgs.dlogits.destroy();
    for (const t of [logits, labels, rowLoss, lse, stats]) t.destroy();
  },
});

/**
 * The trajectory rule (lib/parity/compare.ts, docs/parity.md) on a case that starts from a high loss: tied
 * embeddings of std 1 on the golden tiny LLaMA. There is no float64 PyTorch reference for it, so the
 * reference is our own float32 run, and the test shows what the rule must tell apart: a 1-ulp float32
 * perturbation of every starting weight (rounding, nothing wrong) passes; a wrong sign on one tensor's update,
 * a learning rate 10% off on one tensor, or a wrong sign on the update of one element (bugs), fail. (The
 * calibrated case, against float64 PyTorch, is tests/model/llama_parity_test.ts.)
 */

import assert from "node:assert/strict";
import { readTensor } from "../../lib/gpu/tensor.ts";
import { loadCheckpoint } from "../../lib/model/checkpoint.ts";
import { LlamaModel } from "../../lib/model/llama.ts";
import { compareTrajectory, formatParityLine } from "../../lib/parity/compare.ts";
import { SeededRandom } from "../../lib/random.ts";
import { Trainer } from "../../lib/train/trainer.ts";
import { gpuTest, testGpu } from "../_gpu.ts";

const LR = 1e-2, STEPS = 5; // the golden case's AdamW: betas (0.9, 0.999), eps 1e-8, weight decay 0.1

/** The next float32 above `x` (1 ulp). */
function nextUp(x: number): number {
  const f = new Float32Array([x]), u = new Uint32Array(f.buffer);
  if (x === 0) u[0] = 1;
  else u[0] = x > 0 ? u[0]! + 1 : u[0]! - 1;
  return f[0]!;
}

/** Trains `weights` for STEPS AdamW steps on a fixed batch; the first loss and each tensor after. */
async function trajectory(weights: Map<string, Float32Array>) {
  const gpu = await testGpu();
  const { config } = await loadCheckpoint("testdata/golden/llama-tiny");
  const tied = { ...config, tieWordEmbeddings: true };
  const model = LlamaModel.create(gpu, tied, weights, { trainBase: true });
  const batch = 2, seqLen = 12;
  const ids = Uint32Array.from({ length: batch * seqLen }, (_, i) => (i * 7 + 3) % config.vocabSize);
  const trainer = await Trainer.create(model, {
    batch,
    seqLen,
    lr: LR,
    schedule: { kind: "constant", warmupSteps: 0, totalSteps: STEPS },
    adamw: { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1, maxGradNorm: Infinity },
  });
  try {
    const losses: number[] = [];
    for (let s = 0; s < STEPS; s++) {
      losses.push((await trainer.trainStep(ids, Int32Array.from(ids), true))!.loss);
    }
    const after = new Map<string, Float32Array>();
    for (const t of model.trainable()) after.set(t.name, await readTensor(t.value));
    return { firstLoss: losses[0]!, after };
  } finally {
    trainer.destroy();
    model.destroy();
  }
}

Deno.test({
  name:
    "trajectory rule from a high loss: 1-ulp rounding passes; a wrong sign or 10% lr on a tensor or one element fails",
  ...gpuTest,
  async fn() {
    const { weights } = await loadCheckpoint("testdata/golden/llama-tiny");
    const start = new Map<string, Float32Array>();
    for (const [name, w] of weights) if (name !== "lm_head.weight") start.set(name, Float32Array.from(w));
    const embed = start.get("model.embed_tokens.weight")!;
    embed.set(new SeededRandom(1, "embed").normals(embed.length, 1)); // std 1, tied to the LM head
    const perturbed = new Map([...start].map(([name, w]) => [name, w.map(nextUp)]));

    const ref = await trajectory(start);
    const ulp = await trajectory(perturbed);
    assert.ok(ref.firstLoss > 10, `a high initial loss (${ref.firstLoss}; ln 64 = 4.16)`);

    for (const [name, after] of ref.after) {
      const initial = start.get(name)!;
      const line = compareTrajectory(name, ulp.after.get(name)!, after, { initial, lr: LR, steps: STEPS });
      assert.ok(line.ok, `1-ulp start: ${formatParityLine(line)}`);
    }

    const name = "model.layers.0.mlp.down_proj.weight";
    const initial = start.get(name)!, after = ref.after.get(name)!;
    const moved = (scale: number) => after.map((w, i) => initial[i]! + scale * (w - initial[i]!));
    // One element with its update reversed: the one that moved most (the relative norm barely sees it).
    const most = after.reduce(
      (best, w, i) => Math.abs(w - initial[i]!) > Math.abs(after[best]! - initial[best]!) ? i : best,
      0,
    );
    const oneElement = Float32Array.from(after);
    oneElement[most] = 2 * initial[most]! - after[most]!;
    const bugs = [["wrong sign", moved(-1)], ["lr 10% high", moved(1.1)], [
      "one element reversed",
      oneElement,
    ]];
    for (const [bug, values] of bugs as [string, Float32Array][]) {
      const line = compareTrajectory(name, values, after, { initial, lr: LR, steps: STEPS });
      assert.equal(line.ok, false, `${bug}: ${formatParityLine(line)}`);
    }
  },
});

Deno.test("the trajectory rule fails NaN, a moved tensor that should not move, and a length mismatch", () => {
  const initial = [1, 2, 3, 4], ref = [1.01, 2.01, 3.01, 4.01];
  const trajectory = { initial, lr: 1e-2, steps: 1 };
  assert.equal(compareTrajectory("w", ref, ref, trajectory).ok, true);
  assert.equal(compareTrajectory("w", [NaN, 2.01, 3.01, 4.01], ref, trajectory).ok, false);
  assert.equal(compareTrajectory("w", [1, 2, 3, 4.000001], initial, trajectory).ok, false, "untouched");
  assert.equal(compareTrajectory("w", [1, 2, 3, 4], initial, trajectory).ok, true);
  assert.equal(compareTrajectory("w", [1.01], ref, trajectory).ok, false);
  // Two outliers (0.06 lr off) in four elements exceed the budget of one.
  const line = compareTrajectory("w", [1.0106, 2.0106, 3.01, 4.01], ref, trajectory);
  assert.match(line.detail!, /outliers 2 \(≤ 1\)/);
  assert.equal(line.ok, false);
});

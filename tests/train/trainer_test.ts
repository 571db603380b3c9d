import assert from "node:assert/strict";
import { createTensor, readTensor, writeTensor } from "../../lib/gpu/tensor.ts";
import { loadCheckpoint } from "../../lib/model/checkpoint.ts";
import { buildGreedyGenerator } from "../../lib/model/generate.ts";
import { LlamaModel } from "../../lib/model/llama.ts";
import type { TrainableTensor } from "../../lib/model/linear.ts";
import { runDispatches } from "../../lib/gpu/kernel.ts";
import { AdamW, DEFAULT_ADAMW } from "../../lib/train/optimizer.ts";
import { divergence, Trainer, TrainingDivergedError } from "../../lib/train/trainer.ts";
import { gpuTest, testGpu } from "../_gpu.ts";

const schedule = { kind: "constant", warmupSteps: 0, totalSteps: 100 } as const;

Deno.test({
  name: "a NaN weight stops training with a message that names the non-finite gradient norm",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const { config, weights } = await loadCheckpoint("testdata/golden/llama-tiny");
    const poisoned = new Float32Array(weights.get("model.norm.weight")!);
    poisoned[3] = NaN;
    weights.set("model.norm.weight", poisoned);
    const model = LlamaModel.create(gpu, config, weights, { trainBase: true });
    const trainer = await Trainer.create(model, { batch: 1, seqLen: 8, lr: 1e-3, schedule, logEvery: 2 });
    const ids = Uint32Array.from({ length: 8 }, (_, i) => i);
    assert.equal(await trainer.trainStep(ids, Int32Array.from(ids)), undefined); // no read-back at step 1
    await assert.rejects(
      () => trainer.trainStep(ids, Int32Array.from(ids)),
      (e: Error) =>
        e instanceof TrainingDivergedError &&
        /at step 2: the gradient norm is NaN: a weight or gradient is not finite \(the loss is NaN\)/
          .test(e.message),
    );
    trainer.destroy();
    model.destroy();
  },
});

Deno.test("divergence names a non-finite gradient norm, then a non-finite loss, and passes finite ones", () => {
  assert.equal(divergence(5, 2.5, 0.7, 1e-3), undefined);
  assert.match(
    divergence(5, 2.5, Infinity, 1e-3)!,
    /^Training diverged at step 5: the gradient norm is Infinity: a weight or gradient is not finite \(the loss is 2.5\)\. Check the weights/,
  );
  assert.match(
    divergence(7, NaN, 0.7, 0.01)!,
    /^Training diverged at step 7: the loss is NaN\. Lower the learning rate \(now 0.01\)/,
  );
});

function tensor(
  gpu: Awaited<ReturnType<typeof testGpu>>,
  name: string,
  group: string,
  grad: number,
): TrainableTensor {
  return {
    name,
    value: createTensor(gpu, name, [4]),
    grad: createTensor(gpu, `grad.${name}`, [4], new Float32Array(4).fill(grad)),
    group,
  };
}

Deno.test({
  name: "parameter groups scale the learning rate; a reset clears the moments and restarts bias correction",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const a = tensor(gpu, "a", "lora_A", 0.3);
    const b = tensor(gpu, "b", "lora_B", 0.3);
    const adam = new AdamW(gpu, [a, b], {
      ...DEFAULT_ADAMW,
      maxGradNorm: Infinity,
      groups: { lora_B: { lrScale: 4 } },
    });
    const plan = await adam.build();
    const step = async () => {
      adam.prepare(0.01);
      await runDispatches(gpu, plan);
      return [(await readTensor(a.value))[0]!, (await readTensor(b.value))[0]!];
    };
    // Adam's first step moves each value by lr·g/(|g| + eps) ≈ lr: 0.01 for A, 4 × 0.01 for B (LoRA+).
    const [a1, b1] = await step();
    assert.ok(Math.abs(a1! + 0.01) < 1e-6 && Math.abs(b1! + 0.04) < 1e-6, `${a1}, ${b1}`);
    // Reset A's state only, then flip the gradient: A starts afresh (bias correction from step 1, so it moves
    // by exactly lr against the new gradient), B keeps its moments (m̂ = −0.0158, v̂ = 0.09: a step of
    // 4·lr·0.0526 = 0.0021), so a reset that did nothing, or reset B too, fails.
    adam.reset((t) => t.group === "lora_A");
    for (const t of [a, b]) writeTensor(t.grad, new Float32Array(4).fill(-0.3));
    const [a2, b2] = await step();
    assert.ok(Math.abs(a2! - a1! - 0.01) < 1e-6, `A moved ${a2! - a1!}`);
    assert.ok(Math.abs(b2! - b1! - 0.002105) < 2e-6, `B moved ${b2! - b1!}`);
    adam.destroy();
    for (const t of [a, b]) [t.value, t.grad].forEach((x) => x.destroy());
  },
});

Deno.test({
  name: "two accumulated micro-batches make the same update as one batch of both (equal token counts)",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const { config, weights } = await loadCheckpoint("testdata/golden/llama-tiny");
    const ids = Uint32Array.from({ length: 2 * 10 }, (_, i) => (i * 7 + 3) % config.vocabSize);
    const labels = Int32Array.from(ids);
    const after: Float32Array[][] = [];
    const losses: number[] = [];
    for (const [batch, microBatches] of [[2, 1], [1, 2]] as const) {
      const model = LlamaModel.create(gpu, config, weights, { trainBase: true });
      const trainer = await Trainer.create(model, { batch, microBatches, seqLen: 10, lr: 1e-2, schedule });
      for (let s = 0; s < 3; s++) losses.push((await trainer.trainStep(ids, labels, true))!.loss);
      after.push(await Promise.all(model.trainable().map((t) => readTensor(t.value))));
      trainer.destroy();
      model.destroy();
    }
    // Same math, different float32 summation order: the losses and weights agree to rounding.
    for (let s = 0; s < 3; s++) assert.ok(Math.abs(losses[s]! - losses[s + 3]!) < 1e-5, `loss ${s}`);
    after[0]!.forEach((values, i) => {
      for (let j = 0; j < values.length; j++) assert.ok(Math.abs(values[j]! - after[1]![i]![j]!) < 1e-5);
    });
    await assert.rejects(
      async () => {
        const model = LlamaModel.create(gpu, config, weights, { trainBase: true });
        const trainer = await Trainer.create(model, {
          batch: 1,
          microBatches: 2,
          seqLen: 10,
          lr: 1e-2,
          schedule,
        });
        try {
          await trainer.trainStep(ids.subarray(0, 10), labels.subarray(0, 10));
        } finally {
          trainer.destroy();
          model.destroy();
        }
      },
      /a step takes 2 micro-batch\(es\) of 1×10 tokens/,
    );
  },
});

Deno.test({
  name: "rebuilding plans, generators and trainers leaks no GPU memory (ops' scratch is freed with its plan)",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const { config, weights } = await loadCheckpoint("testdata/golden/llama-tiny");
    const model = LlamaModel.create(gpu, config, weights, { trainBase: true });
    const cycle = async () => {
      const trainer = await Trainer.create(model, {
        batch: 2,
        seqLen: 8,
        lr: 1e-3,
        schedule,
        microBatches: 2,
      });
      await trainer.rebuild();
      trainer.destroy();
      const generator = await buildGreedyGenerator(model, { batch: 2, promptLen: 3, maxNewTokens: 4 });
      generator.destroy();
    };
    await cycle(); // the model's own shared scratch pool fills up once
    const live = gpu.memory.live;
    await cycle();
    await cycle();
    assert.equal(gpu.memory.live, live);
    model.destroy();
  },
});

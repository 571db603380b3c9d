import { deepStrictEqual as assertEquals } from "node:assert/strict";
import type { Gpu } from "../../lib/gpu/device.ts";
import { runDispatches } from "../../lib/gpu/kernel.ts";
import { createTensor, readTensorU32 } from "../../lib/gpu/tensor.ts";
import type { TrainableTensor } from "../../lib/model/linear.ts";
import { AdamW, DEFAULT_ADAMW, type MomentState } from "../../lib/train/optimizer.ts";
import { Rng } from "../_numeric.ts";
import { gpuTest, testGpu } from "../_gpu.ts";

const SIZES = [12, 7, 300, 64, 5];

/** Trainable tensors of SIZES in two groups, with fixed random values and gradients. */
function makeTensors(gpu: Gpu, seed: number): TrainableTensor[] {
  const rng = new Rng(seed);
  return SIZES.map((n, k) => ({
    name: `t${k}`,
    value: createTensor(gpu, `t${k}`, [n], rng.floats(n, -1, 1)),
    grad: createTensor(gpu, `t${k}.grad`, [n], rng.floats(n, -2, 2)),
    group: k % 2 === 0 ? "base" : "lora_B",
  }));
}

/** Runs `steps` AdamW updates (clipping on, LoRA+-like groups) on `gpu`'s limits; returns the state. */
async function train(gpu: Gpu, steps: number): Promise<{ params: Uint32Array[]; state: MomentState[] }> {
  const tensors = makeTensors(gpu, 41);
  const config = { ...DEFAULT_ADAMW, weightDecay: 0.01, groups: { lora_B: { lrScale: 16 } } };
  const optimizer = new AdamW(gpu, tensors, config);
  const dispatches = await optimizer.build();
  for (let t = 0; t < steps; t++) {
    optimizer.prepare(1e-2);
    await runDispatches(gpu, dispatches);
  }
  const params = await Promise.all(tensors.map((t) => readTensorU32(t.value)));
  const state = await optimizer.readState();
  optimizer.destroy();
  for (const t of tensors) [t.value, t.grad].forEach((x) => x.destroy());
  return { params, state };
}

/** `gpu` with a binding limit of `values` floats, so the moments split into several arenas. */
function withBindingLimit(gpu: Gpu, values: number): Gpu {
  return { ...gpu, limits: { ...gpu.limits, maxStorageBufferBindingSize: values * 4 } };
}

Deno.test({
  name: "AdamW gives the same bits with its moments in one arena or split over several",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const one = await train(gpu, 3);
    // 310 values per arena: [12, 7], [300], [64, 5].
    const split = await train(withBindingLimit(gpu, 310), 3);
    assertEquals(split.params, one.params);
    assertEquals(split.state, one.state);
    assertEquals(one.state.map((s) => [s.name, s.m.length, s.step]), SIZES.map((n, k) => [`t${k}`, n, 3]));
  },
});

Deno.test({
  name: "AdamW writeState restores what readState read, and reset zeroes only the tensors it picks",
  ...gpuTest,
  async fn() {
    const gpu = withBindingLimit(await testGpu(), 310);
    const tensors = makeTensors(gpu, 42);
    const optimizer = new AdamW(gpu, tensors, DEFAULT_ADAMW);
    const rng = new Rng(43);
    const saved = SIZES.map((n, k) => ({
      name: `t${k}`,
      m: rng.floats(n, -1, 1),
      v: rng.floats(n, 0, 1),
      step: k + 1,
    }));
    optimizer.writeState(saved);
    assertEquals(await optimizer.readState(), saved);
    // t1 shares its arena with t0, t3 with t4: their neighbours keep their moments.
    optimizer.reset((t) => t.group === "lora_B");
    const expected = saved.map((s, k) =>
      k % 2 === 1 ? { ...s, m: new Float32Array(s.m.length), v: new Float32Array(s.v.length), step: 0 } : s
    );
    assertEquals(await optimizer.readState(), expected);
    optimizer.destroy();
    for (const t of tensors) [t.value, t.grad].forEach((x) => x.destroy());
  },
});

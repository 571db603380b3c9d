import assert from "node:assert/strict";
import { GpuUnavailableError, requestGpu } from "../../lib/gpu/device.ts";
import { getPipeline, grid, KernelCompileError, makeDispatch, packParams } from "../../lib/gpu/kernel.ts";
import { createTensor, readTensor, TensorTooLargeError } from "../../lib/gpu/tensor.ts";
import { gpuTest, testGpu } from "../_gpu.ts";

Deno.test({
  name: "a WGSL compile error names the kernel, the line and the compiler's message",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const code = "@compute @workgroup_size(1)\nfn main() {\n  let x: f32 = undefined_name;\n}\n";
    await assert.rejects(
      () => getPipeline(gpu, { name: "broken_kernel", code }),
      (e: Error) =>
        e instanceof KernelCompileError && /Cannot compile kernel "broken_kernel"/.test(e.message) &&
        /kernels\/broken_kernel\.wgsl:3:\d+:[\s\S]*undefined_name/.test(e.message),
    );
  },
});

Deno.test({
  name: "a tensor larger than the device allows is refused before anything is allocated",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const live = gpu.memory.live;
    const limit = Math.min(gpu.limits.maxStorageBufferBindingSize, gpu.limits.maxBufferSize);
    const rows = Math.ceil(limit / 4 / 1024) + 1;
    assert.throws(
      () => createTensor(gpu, "activations.huge", [rows, 1024]),
      (e: Error) =>
        e instanceof TensorTooLargeError &&
        /"activations\.huge" \[\d+, 1024\]: \d+ bytes exceed the device limit of/.test(e.message),
    );
    assert.equal(gpu.memory.live, live);
    assert.throws(() => createTensor(gpu, "bad", [2, -1]), /invalid shape \[2, -1\]/);
    assert.throws(
      () => createTensor(gpu, "short", [3], new Float32Array(2)),
      /2 values given for shape \[3\]/,
    );
  },
});

Deno.test({
  name: "live and peak bytes follow allocations and frees",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    gpu.memory.resetPeak();
    const start = gpu.memory.live;
    const a = createTensor(gpu, "a", [100]);
    const b = createTensor(gpu, "b", [50], new Float32Array(50).fill(2));
    assert.equal(gpu.memory.live - start, 600);
    a.destroy();
    a.destroy(); // idempotent
    assert.equal(gpu.memory.live - start, 200);
    assert.equal(gpu.memory.peak - start, 600);
    assert.deepEqual(Array.from(await readTensor(b)).slice(0, 3), [2, 2, 2]);
    b.destroy();
    await assert.rejects(() => readTensor(b), /was destroyed/);
  },
});

Deno.test({
  name: "dispatches beyond the workgroup limit are refused; grid folds large counts into 2-D",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const max = gpu.limits.maxComputeWorkgroupsPerDimension;
    const [x, y] = grid(gpu, max * 3 + 1);
    assert.ok(x <= max && x * y >= max * 3 + 1);
    assert.deepEqual(grid(gpu, 7), [7, 1, 1]);
    const code = "@compute @workgroup_size(1)\nfn main() {}\n";
    await assert.rejects(
      () => makeDispatch(gpu, { name: "empty", code }, { tensors: [], workgroups: [max + 1, 1, 1] }),
      /Cannot dispatch kernel "empty": workgroups \[\d+, 1, 1\] exceed the device limit/,
    );
    assert.strictEqual(getPipeline(gpu, { name: "empty", code }), getPipeline(gpu, { name: "empty", code }));
  },
});

Deno.test("params pack u32 fields, then f32 fields, padded to 16 bytes", () => {
  const bytes = packParams({ u32: [3, 7], f32: [0.5] });
  assert.equal(bytes.byteLength, 16);
  assert.deepEqual(Array.from(new Uint32Array(bytes).slice(0, 2)), [3, 7]);
  assert.equal(new Float32Array(bytes)[2], 0.5);
  assert.throws(() => packParams({ u32: [-1] }), /not an unsigned 32-bit integer/);
});

Deno.test({
  name: "no adapter: one error that says how to get one",
  ...gpuTest,
  async fn() {
    const gpuApi = navigator.gpu as unknown as { requestAdapter: () => Promise<null> };
    const original = gpuApi.requestAdapter;
    gpuApi.requestAdapter = () => Promise.resolve(null);
    try {
      await assert.rejects(
        () => requestGpu(),
        (e: Error) => e instanceof GpuUnavailableError && /mesa-vulkan-drivers/.test(e.message),
      );
    } finally {
      gpuApi.requestAdapter = original;
    }
  },
});

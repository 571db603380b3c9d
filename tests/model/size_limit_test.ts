import assert from "node:assert/strict";
import type { Gpu } from "../../lib/gpu/device.ts";
import { MemoryCounter } from "../../lib/gpu/memory.ts";
import { checkTensorFits, createTensor, TensorTooLargeError } from "../../lib/gpu/tensor.ts";

const MiB = 2 ** 20;

Deno.test("a LLaMA-2 7B embedding passes a 128 MiB binding limit: the error names tensor, size and limit", () => {
  const limits = { maxStorageBufferBindingSize: 128 * MiB, maxBufferSize: 256 * MiB };
  assert.throws(
    () => checkTensorFits(limits, "model.embed_tokens.weight", [32000, 4096]),
    (e: Error) =>
      e instanceof TensorTooLargeError &&
      e.message.includes('"model.embed_tokens.weight" [32000, 4096]: 524288000 bytes exceed') &&
      e.message.includes(
        "limit of 134217728 bytes (500.0 MiB > 128.0 MiB, the device's maxStorageBufferBindingSize)",
      ),
  );
  // The smaller of the two limits applies, whichever it is.
  assert.throws(
    () =>
      checkTensorFits({ maxStorageBufferBindingSize: 2048 * MiB, maxBufferSize: 256 * MiB }, "w", [
        32000,
        4096,
      ]),
    /limit of 268435456 bytes \(500.0 MiB > 256.0 MiB, the device's maxBufferSize\)/,
  );
  checkTensorFits(limits, "model.layers.0.self_attn.q_proj.weight", [4096, 4096]); // 64 MiB fits
});

Deno.test("createTensor refuses a tensor past a (fake, small) limit before touching the device", () => {
  const device = new Proxy({}, {
    get: () => {
      throw new Error("the device was used");
    },
  });
  const gpu = {
    device,
    limits: { maxStorageBufferBindingSize: 1024, maxBufferSize: 4096 },
    memory: new MemoryCounter(),
  } as unknown as Gpu;
  assert.throws(
    () => createTensor(gpu, "lm_head.weight", [16, 17]),
    /"lm_head.weight" \[16, 17\]: 1088 bytes/,
  );
  assert.equal(gpu.memory.live, 0);
});

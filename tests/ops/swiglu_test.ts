import { rejects } from "node:assert/strict";
import { runDispatches } from "../../lib/gpu/kernel.ts";
import { createTensor, readTensor } from "../../lib/gpu/tensor.ts";
import { swigluBackward, swigluBackwardCpu, swigluForward, swigluForwardCpu } from "../../lib/ops/swiglu.ts";
import { assertAllClose, dot, numericGradient, randomF64, Rng } from "../_numeric.ts";
import { gpuTest, testGpu } from "../_gpu.ts";

Deno.test({
  name: "swiglu forward and backward match the CPU reference on awkward sizes",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const rng = new Rng(21);
    // Odd sizes take the f32 kernel, multiples of 4 the vec4f one; around one workgroup (256 or 1024).
    for (const n of [1, 3, 5, 33, 255, 256, 257, 1023, 1024, 1028, 4099]) {
      // Gates out to ±30 reach sigmoid's saturated tails; then a few extreme values.
      const gate = rng.floats(n, -30, 30);
      if (n >= 3) gate.set([-100, 100, 0], 0);
      const up = rng.floats(n, -2, 2);
      const dout = rng.floats(n);
      const tensors = {
        gate: createTensor(gpu, "gate", [n], gate),
        up: createTensor(gpu, "up", [n], up),
        dout: createTensor(gpu, "dout", [n], dout),
        out: createTensor(gpu, "out", [n]),
        dgate: createTensor(gpu, "dgate", [n]),
        dup: createTensor(gpu, "dup", [n]),
      };
      await runDispatches(gpu, [
        ...await swigluForward(gpu, { ...tensors, n }),
        ...await swigluBackward(gpu, { ...tensors, n }),
      ]);
      const grads = swigluBackwardCpu(dout, gate, up);
      // A handful of float32 operations including exp (≤ 3 ulp in WGSL, relative to e^(−g)): 1e-5 relative.
      const tol = { atol: 1e-6, rtol: 1e-5 };
      assertAllClose(await readTensor(tensors.out), swigluForwardCpu(gate, up), tol, `out (${n})`);
      assertAllClose(await readTensor(tensors.dgate), grads.dgate, tol, `dgate (${n})`);
      assertAllClose(await readTensor(tensors.dup), grads.dup, tol, `dup (${n})`);
      for (const t of Object.values(tensors)) t.destroy();
    }
  },
});

Deno.test("swiglu CPU backward matches central finite differences", () => {
  const rng = new Rng(22);
  const n = 9;
  const gate = randomF64(rng, n, -4, 4);
  const up = randomF64(rng, n, -2, 2);
  const dout = randomF64(rng, n);
  const loss = () => dot(swigluForwardCpu(gate, up), dout);
  const grads = swigluBackwardCpu(dout, gate, up);
  // Central differences with h = 1e-6 in float64: truncation O(h²) plus rounding ~1e-10 / h.
  assertAllClose(grads.dgate, numericGradient(loss, gate), { atol: 1e-7, rtol: 1e-6 }, "dgate");
  assertAllClose(grads.dup, numericGradient(loss, up), { atol: 1e-7, rtol: 1e-6 }, "dup");
});

Deno.test({
  name: "swiglu rejects a tensor of the wrong size, naming it",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const gate = createTensor(gpu, "gate", [8]);
    const up = createTensor(gpu, "up", [7]);
    const out = createTensor(gpu, "out", [8]);
    await rejects(swigluForward(gpu, { out, gate, up, n: 8 }), {
      name: "RangeError",
      message: /tensor "up" has 7 values/,
    });
    for (const t of [gate, up, out]) t.destroy();
  },
});

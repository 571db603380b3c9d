import { MoraLayer } from "../../lib/adapters/mora.ts";
import { moraBackwardCpu, moraForwardCpu } from "../../lib/ops/mora/reference.ts";
import { ScratchPool } from "../../lib/gpu/scratch.ts";
import { linearBackwardCpu, linearForwardCpu } from "../../lib/ops/matmul.ts";
import { assertAllClose, Rng } from "../_numeric.ts";
import { gpuTest, testGpu } from "../_gpu.ts";
import { baseLayer, dropoutFor, fill, GPU_TOL, runLayer } from "./_layer.ts";

Deno.test({
  name: "MoRA layer with input dropout: compression sees D(x), ∂x of the adapter goes through the same mask",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const rng = new Rng(31);
    for (const variant of ["rotation", "sharing", "truncation"] as const) {
      for (const [outF, inF, rows, r] of [[13, 19, 7, 3], [70, 50, 3, 3]] as const) {
        const { base, w0 } = baseLayer(gpu, rng, outF, inF);
        const { mask, inputMask } = dropoutFor(gpu, base.name, rows * inF);
        const layer = new MoraLayer(gpu, base, new ScratchPool(gpu), variant, r, mask);
        const m = Float64Array.from(fill(layer.m, rng));
        const x = rng.floats(rows * inF);
        const dy = rng.floats(rows * outF);
        const dxInit = rng.floats(rows * inF);
        const dims = { x, w: w0, rows, inFeatures: inF, outFeatures: outF };
        for (const training of [true, false]) {
          const adapterInput = Float64Array.from(x, (v, i) => training ? v * inputMask[i]! : v);
          const run = await runLayer(gpu, layer, x, dy, dxInit, training);
          const mora = moraBackwardCpu(
            adapterInput,
            Float64Array.from(dy),
            rows,
            inF,
            outF,
            m,
            layer.rank,
            variant,
          );
          const y = moraForwardCpu(adapterInput, rows, inF, outF, m, layer.rank, variant).y;
          const baseY = linearForwardCpu(dims);
          const baseDx = linearBackwardCpu({ ...dims, dy }).dx;
          const what = `${variant} ${outF}×${inF} training ${training}`;
          assertAllClose(run.y, baseY.map((v, i) => v + y[i]!), GPU_TOL, `${what} y`);
          assertAllClose(run.grads.get("lora_A.weight")!, mora.gradM, GPU_TOL, `${what} dM`);
          const dx = dxInit.map((v, i) => v + baseDx[i]! + (training ? inputMask[i]! : 1) * mora.gradX[i]!);
          assertAllClose(run.dx, dx, GPU_TOL, `${what} dx`);
        }
        layer.destroy();
        for (const t of [base.weight, mask.step]) t.destroy();
      }
    }
  },
});

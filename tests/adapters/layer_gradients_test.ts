import { doraBackwardCpu, doraForwardCpu, DoraLayer, doraNormCpu } from "../../lib/adapters/dora.ts";
import { loraBackwardCpu, type LoraCpuArgs, loraForwardCpu, LoraLayer } from "../../lib/adapters/lora.ts";
import { MoraLayer } from "../../lib/adapters/mora.ts";
import { moraBackwardCpu, moraForwardCpu } from "../../lib/ops/mora/reference.ts";
import { MORA_VARIANTS } from "../../lib/ops/mora/variants.ts";
import { ScratchPool } from "../../lib/gpu/scratch.ts";
import { addScaledCpu } from "../../lib/ops/elementwise.ts";
import { assertAllClose, dot, numericGradient, randomF64, Rng } from "../_numeric.ts";
import { baseLayer, dropoutFor, FD_TOL, fill, GPU_TOL, runLayer } from "./_layer.ts";
import { gpuTest, testGpu } from "../_gpu.ts";

const SHAPES = [[13, 19, 7, 3], [40, 9, 5, 4], [33, 33, 2, 1]] as const; // out, in, rows, r

Deno.test({
  name: "LoRA layer: GPU forward/backward match the CPU reference on odd shapes",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const rng = new Rng(21);
    for (const [outF, inF, rows, r] of SHAPES) {
      const { base, w0 } = baseLayer(gpu, rng, outF, inF);
      const layer = new LoraLayer({ gpu, base, scratch: new ScratchPool(gpu), r, alpha: 2 * r + 1, seed: 5 });
      const p: LoraCpuArgs = {
        x: rng.floats(rows * inF),
        w0,
        a: fill(layer.a, rng),
        b: fill(layer.b, rng),
        rows,
        inF,
        outF,
        r,
        scale: layer.scale,
      };
      const dy = rng.floats(rows * outF);
      const dxInit = rng.floats(rows * inF);
      const run = await runLayer(gpu, layer, p.x as Float32Array<ArrayBuffer>, dy, dxInit);
      const ref = loraBackwardCpu(p, dy);
      assertAllClose(run.y, loraForwardCpu(p).y, GPU_TOL, "y");
      assertAllClose(run.grads.get("lora_A.weight")!, ref.gradA, GPU_TOL, "dA");
      assertAllClose(run.grads.get("lora_B.weight")!, ref.gradB, GPU_TOL, "dB");
      assertAllClose(run.dx, addScaledCpu(dxInit, ref.gradX, 1, 1), GPU_TOL, "dx");
      layer.destroy();
      base.weight.destroy();
    }
  },
});

Deno.test("LoRA CPU backward matches finite differences", () => {
  const rng = new Rng(22);
  const [outF, inF, rows, r] = [4, 5, 3, 2];
  const p = {
    x: randomF64(rng, rows * inF),
    w0: randomF64(rng, outF * inF),
    a: randomF64(rng, r * inF),
    b: randomF64(rng, outF * r),
    rows,
    inF,
    outF,
    r,
    scale: 1.5,
  };
  const g = randomF64(rng, rows * outF);
  const ref = loraBackwardCpu(p, g);
  const loss = () => dot(loraForwardCpu(p).y, g);
  assertAllClose(ref.gradA, numericGradient(loss, p.a), FD_TOL, "dA");
  assertAllClose(ref.gradB, numericGradient(loss, p.b), FD_TOL, "dB");
  assertAllClose(ref.gradX, numericGradient(loss, p.x), FD_TOL, "dx");
});

Deno.test({
  name: "DoRA layer: GPU forward/backward (detached norm) match the CPU reference on odd shapes",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const rng = new Rng(23);
    for (const [outF, inF, rows, r] of SHAPES) {
      const { base, w0 } = baseLayer(gpu, rng, outF, inF);
      const layer = await DoraLayer.create(gpu, base, new ScratchPool(gpu), {
        method: "dora",
        r,
        alpha: r,
        targetModules: [],
        seed: 1,
      });
      const p = {
        x: rng.floats(rows * inF),
        w0,
        a: fill(layer.lora.a, rng),
        b: fill(layer.lora.b, rng),
        m: fill(layer.magnitude, rng, 0.5, 2),
        rows,
        inF,
        outF,
        r,
        scale: layer.lora.scale,
      };
      const dy = rng.floats(rows * outF);
      const dxInit = rng.floats(rows * inF);
      const run = await runLayer(gpu, layer, p.x as Float32Array<ArrayBuffer>, dy, dxInit);
      const ref = doraBackwardCpu(p, dy);
      assertAllClose(run.y, doraForwardCpu(p).y, GPU_TOL, "y");
      assertAllClose(run.grads.get("lora_A.weight")!, ref.gradA, GPU_TOL, "dA");
      assertAllClose(run.grads.get("lora_B.weight")!, ref.gradB, GPU_TOL, "dB");
      assertAllClose(
        run.grads.get("up_proj.lora_magnitude_vector")!,
        ref.gradM,
        GPU_TOL,
        "dm",
      );
      assertAllClose(run.dx, addScaledCpu(dxInit, ref.gradX, 1, 1), GPU_TOL, "dx");
      layer.destroy();
      base.weight.destroy();
    }
  },
});

Deno.test("DoRA CPU backward matches finite differences with the norm held constant (PEFT's detach)", () => {
  const rng = new Rng(24);
  const [outF, inF, rows, r] = [4, 5, 3, 2];
  const p = {
    x: randomF64(rng, rows * inF),
    w0: randomF64(rng, outF * inF),
    a: randomF64(rng, r * inF),
    b: randomF64(rng, outF * r),
    m: randomF64(rng, outF, 0.5, 2),
    rows,
    inF,
    outF,
    r,
    scale: 0.7,
  };
  const g = randomF64(rng, rows * outF);
  const ref = doraBackwardCpu(p, g);
  const detached = { ...p, norm: doraNormCpu(p) };
  const loss = () => dot(doraForwardCpu(detached).y, g);
  assertAllClose(ref.gradM, numericGradient(loss, p.m), FD_TOL, "dm");
  assertAllClose(ref.gradA, numericGradient(loss, p.a), FD_TOL, "dA");
  assertAllClose(ref.gradB, numericGradient(loss, p.b), FD_TOL, "dB");
  assertAllClose(ref.gradX, numericGradient(loss, p.x), FD_TOL, "dx");
});

/** A random fixed dropout multiplier (0 or 1/(1−p)) for the finite-difference checks. */
function randomInputMask(rng: Rng, n: number, p: number): Float64Array {
  return Float64Array.from({ length: n }, () => rng.next() < p ? 0 : 1 / (1 - p));
}

Deno.test({
  name:
    "LoRA layer with input dropout: training uses the kernel's mask in forward and backward, eval ignores it",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const rng = new Rng(26);
    for (const [outF, inF, rows, r] of SHAPES) {
      const { base, w0 } = baseLayer(gpu, rng, outF, inF);
      const { mask, inputMask } = dropoutFor(gpu, base.name, rows * inF);
      const layer = new LoraLayer({
        gpu,
        base,
        scratch: new ScratchPool(gpu),
        r,
        alpha: 2 * r + 1,
        seed: 5,
        dropout: mask,
      });
      const p: LoraCpuArgs = {
        x: rng.floats(rows * inF),
        w0,
        a: fill(layer.a, rng),
        b: fill(layer.b, rng),
        rows,
        inF,
        outF,
        r,
        scale: layer.scale,
      };
      const dy = rng.floats(rows * outF);
      const dxInit = rng.floats(rows * inF);
      for (const training of [true, false]) {
        const cpu = training ? { ...p, inputMask } : p;
        const run = await runLayer(gpu, layer, p.x as Float32Array<ArrayBuffer>, dy, dxInit, training);
        const ref = loraBackwardCpu(cpu, dy);
        const what = `${outF}×${inF} training ${training}`;
        assertAllClose(run.y, loraForwardCpu(cpu).y, GPU_TOL, `${what} y`);
        assertAllClose(run.grads.get("lora_A.weight")!, ref.gradA, GPU_TOL, `${what} dA`);
        assertAllClose(run.grads.get("lora_B.weight")!, ref.gradB, GPU_TOL, `${what} dB`);
        assertAllClose(run.dx, addScaledCpu(dxInit, ref.gradX, 1, 1), GPU_TOL, `${what} dx`);
      }
      layer.destroy();
      for (const t of [base.weight, mask.step]) t.destroy();
    }
  },
});

Deno.test("LoRA CPU backward with a fixed dropout mask matches finite differences", () => {
  const rng = new Rng(27);
  const [outF, inF, rows, r] = [4, 5, 3, 2];
  const p = {
    x: randomF64(rng, rows * inF),
    w0: randomF64(rng, outF * inF),
    a: randomF64(rng, r * inF),
    b: randomF64(rng, outF * r),
    rows,
    inF,
    outF,
    r,
    scale: 1.5,
    inputMask: randomInputMask(rng, rows * inF, 0.4),
  };
  const g = randomF64(rng, rows * outF);
  const ref = loraBackwardCpu(p, g);
  const loss = () => dot(loraForwardCpu(p).y, g);
  assertAllClose(ref.gradA, numericGradient(loss, p.a), FD_TOL, "dA");
  assertAllClose(ref.gradB, numericGradient(loss, p.b), FD_TOL, "dB");
  assertAllClose(ref.gradX, numericGradient(loss, p.x), FD_TOL, "dx");
});

Deno.test({
  name: "DoRA layer with input dropout: training form of spec §8 in forward and backward, eval ignores it",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const rng = new Rng(28);
    for (const [outF, inF, rows, r] of SHAPES) {
      const { base, w0 } = baseLayer(gpu, rng, outF, inF);
      const { mask, inputMask } = dropoutFor(gpu, base.name, rows * inF);
      const config = { method: "dora", r, alpha: r, targetModules: [], seed: 1 };
      const layer = await DoraLayer.create(gpu, base, new ScratchPool(gpu), config, mask);
      const p = {
        x: rng.floats(rows * inF),
        w0,
        a: fill(layer.lora.a, rng),
        b: fill(layer.lora.b, rng),
        m: fill(layer.magnitude, rng, 0.5, 2),
        rows,
        inF,
        outF,
        r,
        scale: layer.lora.scale,
      };
      const dy = rng.floats(rows * outF);
      const dxInit = rng.floats(rows * inF);
      for (const training of [true, false]) {
        const cpu = training ? { ...p, inputMask } : p;
        const run = await runLayer(gpu, layer, p.x as Float32Array<ArrayBuffer>, dy, dxInit, training);
        const ref = doraBackwardCpu(cpu, dy);
        const what = `${outF}×${inF} training ${training}`;
        assertAllClose(run.y, doraForwardCpu(cpu).y, GPU_TOL, `${what} y`);
        assertAllClose(run.grads.get("lora_A.weight")!, ref.gradA, GPU_TOL, `${what} dA`);
        assertAllClose(run.grads.get("lora_B.weight")!, ref.gradB, GPU_TOL, `${what} dB`);
        assertAllClose(run.grads.get("up_proj.lora_magnitude_vector")!, ref.gradM, GPU_TOL, `${what} dm`);
        assertAllClose(run.dx, addScaledCpu(dxInit, ref.gradX, 1, 1), GPU_TOL, `${what} dx`);
      }
      layer.destroy();
      for (const t of [base.weight, mask.step]) t.destroy();
    }
  },
});

Deno.test("DoRA CPU backward with a fixed dropout mask matches finite differences (norm held constant)", () => {
  const rng = new Rng(29);
  const [outF, inF, rows, r] = [4, 5, 3, 2];
  const p = {
    x: randomF64(rng, rows * inF),
    w0: randomF64(rng, outF * inF),
    a: randomF64(rng, r * inF),
    b: randomF64(rng, outF * r),
    m: randomF64(rng, outF, 0.5, 2),
    rows,
    inF,
    outF,
    r,
    scale: 0.7,
    inputMask: randomInputMask(rng, rows * inF, 0.4),
  };
  const g = randomF64(rng, rows * outF);
  const ref = doraBackwardCpu(p, g);
  const detached = { ...p, norm: doraNormCpu(p) };
  const loss = () => dot(doraForwardCpu(detached).y, g);
  assertAllClose(ref.gradM, numericGradient(loss, p.m), FD_TOL, "dm");
  assertAllClose(ref.gradA, numericGradient(loss, p.a), FD_TOL, "dA");
  assertAllClose(ref.gradB, numericGradient(loss, p.b), FD_TOL, "dB");
  assertAllClose(ref.gradX, numericGradient(loss, p.x), FD_TOL, "dx");
  // With every element kept at scale 1 the training form is the plain form.
  const kept = { ...p, inputMask: new Float64Array(rows * inF).fill(1) };
  assertAllClose(
    doraForwardCpu(kept).y,
    doraForwardCpu({ ...p, inputMask: undefined }).y,
    FD_TOL,
    "y, no drop",
  );
});

Deno.test({
  name: "MoRA layer, every variant: GPU forward/backward match the CPU reference, including pad > in",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const rng = new Rng(25);
    for (const variant of MORA_VARIANTS) {
      for (const [outF, inF, rows, r] of [[13, 19, 7, 3], [70, 50, 3, 3], [200, 7, 2, 4]] as const) {
        const { base, w0 } = baseLayer(gpu, rng, outF, inF);
        const layer = new MoraLayer(gpu, base, new ScratchPool(gpu), variant, r);
        const R = layer.rank;
        const m = fill(layer.m, rng);
        const x = rng.floats(rows * inF);
        const dy = rng.floats(rows * outF);
        const dxInit = rng.floats(rows * inF);
        const run = await runLayer(gpu, layer, x, dy, dxInit);
        const [x64, m64, g64] = [Float64Array.from(x), Float64Array.from(m), Float64Array.from(dy)];
        const base64 = loraForwardCpu({ x, w0, a: [], b: [], rows, inF, outF, r: 0, scale: 0 });
        const baseGrad = loraBackwardCpu({ x, w0, a: [], b: [], rows, inF, outF, r: 0, scale: 0 }, dy);
        const ref = moraBackwardCpu(x64, g64, rows, inF, outF, m64, R, variant);
        const what = `${variant} ${outF}×${inF} r̂=${R}`;
        assertAllClose(
          run.y,
          addScaledCpu(base64.y, moraForwardCpu(x64, rows, inF, outF, m64, R, variant).y, 1, 1),
          GPU_TOL,
          `${what} y`,
        );
        assertAllClose(run.grads.get("lora_A.weight")!, ref.gradM, GPU_TOL, `${what} dM`);
        assertAllClose(
          run.dx,
          addScaledCpu(addScaledCpu(dxInit, baseGrad.gradX, 1, 1), ref.gradX, 1, 1),
          GPU_TOL,
          `${what} dx`,
        );
        layer.destroy();
        base.weight.destroy();
      }
    }
  },
});

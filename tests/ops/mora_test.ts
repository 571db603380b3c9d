import { rejects, strictEqual } from "node:assert/strict";
import {
  MORA_VARIANTS,
  moraBackwardCpu,
  moraCompressionTerms,
  moraDecompressionSources,
  moraForwardCpu,
  moraRank,
  type MoraVariant,
} from "../../lib/ops/mora/reference.ts";
import { isChunked } from "../../lib/ops/mora/variants.ts";
import type { Gpu } from "../../lib/gpu/device.ts";
import { runDispatches } from "../../lib/gpu/kernel.ts";
import { createTensor, readTensor, type Tensor } from "../../lib/gpu/tensor.ts";
import {
  moraCompressBackward,
  moraCompressedShape,
  moraCompressForward,
  moraDecompressBackward,
  moraDecompressForward,
  moraDecompressionIsIdentity,
  type MoraDims,
} from "../../lib/ops/mora/operators.ts";
import { moraBackward, moraForward, moraScratch } from "../../lib/ops/mora/adapter_path.ts";
import { assertAllClose, Rng } from "../_numeric.ts";
import { gpuTest, testGpu } from "../_gpu.ts";

/** Awkward (in, out) pairs; r = 4 gives R = 22, 22, 29, 29, 27: 7×200 has pad = 22 > in = 7. */
const SHAPES: [number, number][] = [[50, 70], [33, 129], [7, 200], [200, 7], [96, 80]];
/** 17 rows: three row tiles of 8, the last one partial. */
const ROWS = 17;

// Values are float32 in [-1, 1). Each GPU output is a sum of at most ⌈in/R⌉ + 2 float32 products or
// copies (rotation: 2 products per wrap-padded position, ≤ 8 positions here), each rounded with relative
// error 2^-24 ≈ 6e-8: |error| ≤ 16 · 6e-8 · 2 ≈ 2e-6. The float64 reference sees the same float32 inputs.
const F32_TOL = { atol: 4e-6, rtol: 1e-6 };

function upload(gpu: Gpu, name: string, values: Float32Array<ArrayBuffer>, shape: number[]): Tensor {
  return createTensor(gpu, name, shape, values);
}

/** c = C·x per row (float64). */
function compressCpu(x: Float32Array, d: MoraDims): Float64Array {
  const terms = moraCompressionTerms(d.inF, d.R, d.variant);
  const c = new Float64Array(d.rows * terms.slots);
  for (let b = 0; b < d.rows; b++) {
    for (let t = 0; t < terms.slot.length; t++) {
      const i = b * terms.slots + terms.slot[t]!;
      c[i] = c[i]! + terms.coef[t]! * x[b * d.inF + terms.col[t]!]!;
    }
  }
  return c;
}

/** dx + Cᵀ·dc per row (float64). */
function scatterCpu(dx: Float32Array, dc: Float32Array, d: MoraDims): Float64Array {
  const terms = moraCompressionTerms(d.inF, d.R, d.variant);
  const out = Float64Array.from(dx);
  for (let b = 0; b < d.rows; b++) {
    for (let t = 0; t < terms.slot.length; t++) {
      const i = b * d.inF + terms.col[t]!;
      out[i] = out[i]! + terms.coef[t]! * dc[b * terms.slots + terms.slot[t]!]!;
    }
  }
  return out;
}

/** out + D·z per row (float64). */
function decompressCpu(out: Float32Array, z: Float32Array, d: MoraDims, slots: number): Float64Array {
  const sources = moraDecompressionSources(d.inF, d.outF, d.R, d.variant);
  const result = Float64Array.from(out);
  for (let b = 0; b < d.rows; b++) {
    for (let o = 0; o < d.outF; o++) {
      if (sources[o]! >= 0) result[b * d.outF + o] = result[b * d.outF + o]! + z[b * slots + sources[o]!]!;
    }
  }
  return result;
}

/** Dᵀ·dout per row (float64). */
function foldCpu(dout: Float32Array, d: MoraDims, slots: number): Float64Array {
  const sources = moraDecompressionSources(d.inF, d.outF, d.R, d.variant);
  const dz = new Float64Array(d.rows * slots);
  for (let b = 0; b < d.rows; b++) {
    for (let o = 0; o < d.outF; o++) {
      const s = sources[o]!;
      if (s >= 0) dz[b * slots + s] = dz[b * slots + s]! + dout[b * d.outF + o]!;
    }
  }
  return dz;
}

/**
 * The compressed layout (rows·n′, P) of a full (rows, fullSlots) array: chunk j < n′ of row b in row
 * b·n′ + j, its R values first, then `pad` in the P − R padding columns.
 */
function padded(
  full: ArrayLike<number>,
  d: MoraDims,
  fullSlots: number,
  pad: number,
): Float32Array<ArrayBuffer> {
  const [slotRows, P] = moraCompressedShape(d);
  const chunks = slotRows / d.rows;
  return Float32Array.from({ length: slotRows * P }, (_, i) => {
    const [row, k] = [Math.floor(i / P), i % P];
    const [b, j] = [Math.floor(row / chunks), row % chunks];
    return k < d.R ? full[b * fullSlots + j * d.R + k]! : pad;
  });
}

/**
 * Runs the four operator kernels on the needed slots and checks them against the full CPU definition:
 * compressed and dz are the first slots′ of each full row, zero-padded (and the full fold is exactly zero
 * past slots′); out reads z only below slots′ and never its padding (garbage past slots′, NaN padding
 * here); dx sees the full dc, zero past slots′ as the fold makes it, and never reads the (NaN) padding.
 */
async function checkOperators(gpu: Gpu, rng: Rng, d: MoraDims): Promise<void> {
  const what = `${d.variant} ${d.inF}×${d.outF} R=${d.R} rows=${d.rows}`;
  const shape = moraCompressedShape(d);
  const slots = (shape[0] / d.rows) * d.R;
  const fullSlots = moraCompressionTerms(d.inF, d.R, d.variant).slots;
  const x = rng.floats(d.rows * d.inF);
  const dout = rng.floats(d.rows * d.outF);
  const base = rng.floats(d.rows * d.outF);
  const dxBase = rng.floats(d.rows * d.inF);
  const zFull = rng.floats(d.rows * fullSlots);
  const dcFull = rng.floats(d.rows * fullSlots).map((v, i) => i % fullSlots < slots ? v : 0);
  const tensors = {
    x: upload(gpu, "x", x, [d.rows, d.inF]),
    compressed: upload(gpu, "compressed", rng.floats(shape[0] * shape[1]), shape), // garbage
    out: upload(gpu, "out", base, [d.rows, d.outF]),
    z: upload(gpu, "z", padded(zFull, d, fullSlots, NaN), shape),
    dout: upload(gpu, "dout", dout, [d.rows, d.outF]),
    dz: upload(gpu, "dz", rng.floats(shape[0] * shape[1]), shape), // garbage: the fold must overwrite it
    dx: upload(gpu, "dx", dxBase, [d.rows, d.inF]),
    dcompressed: upload(gpu, "dc", padded(dcFull, d, fullSlots, NaN), shape),
  };
  await runDispatches(gpu, [
    ...await moraCompressForward(gpu, { ...d, compressed: tensors.compressed, x: tensors.x }),
    ...await moraDecompressForward(gpu, { ...d, out: tensors.out, z: tensors.z }),
    ...await moraDecompressBackward(gpu, { ...d, dz: tensors.dz, dout: tensors.dout }),
    ...await moraCompressBackward(gpu, { ...d, dx: tensors.dx, dcompressed: tensors.dcompressed }),
  ]);
  const compressed = padded(compressCpu(x, d), d, fullSlots, 0);
  assertAllClose(await readTensor(tensors.compressed), compressed, F32_TOL, `${what}: compressed`);
  const out = decompressCpu(base, zFull, d, fullSlots);
  assertAllClose(await readTensor(tensors.out), out, F32_TOL, `${what}: out += D·z`);
  const dz = foldCpu(dout, d, fullSlots);
  strictEqual(dz.every((v, i) => i % fullSlots < slots || v === 0), true, `${what}: fold past slots′`);
  assertAllClose(
    await readTensor(tensors.dz),
    padded(dz, d, fullSlots, 0),
    F32_TOL,
    `${what}: dz`,
  );
  const dx = scatterCpu(dxBase, dcFull, d);
  assertAllClose(await readTensor(tensors.dx), dx, F32_TOL, `${what}: dx += Cᵀ·dc`);
  for (const t of Object.values(tensors)) t.destroy();
}

for (const variant of MORA_VARIANTS) {
  Deno.test({
    name: `MoRA ${variant} compress/decompress kernels match the CPU reference on awkward shapes`,
    ...gpuTest,
    async fn() {
      const gpu = await testGpu();
      const rng = new Rng(variant.length * 7919);
      for (const [inF, outF] of SHAPES) {
        await checkOperators(gpu, rng, {
          rows: ROWS,
          inF,
          outF,
          R: moraRank(inF, outF, 4, variant),
          variant,
        });
      }
      // n = 1 with in = R (reference merge crash for rotation) and pad > in twice over (x wraps 3×).
      await checkOperators(gpu, rng, { rows: 3, inF: 16, outF: 40, R: 16, variant });
      await checkOperators(gpu, rng, { rows: 3, inF: 5, outF: 9, R: 18, variant });
      // The reference config's gate/up shape: P = R, out a multiple of 4 (the vec4 kernels' aligned loads).
      await checkOperators(gpu, rng, { rows: ROWS, inF: 128, outF: 512, R: 72, variant });
    },
  });
}

Deno.test({
  name: "MoRA kernels reject mis-sized tensors and odd R for rotation",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const x = createTensor(gpu, "x", [3, 10]);
    const c = createTensor(gpu, "c", [3, 4]);
    const dims = { rows: 3, inF: 10, outF: 6, R: 4 };
    await rejects(
      moraCompressForward(gpu, { ...dims, variant: "rotation", compressed: c, x }),
      // 3 chunks of 4 cover in = 10, but out = 6 needs only 2: 3 rows × 2 × 4.
      { name: "RangeError", message: /"c" has 12 values, expected 24/ },
    );
    await rejects(
      moraCompressForward(gpu, { ...dims, R: 3, variant: "rotation", compressed: c, x }),
      { name: "RangeError", message: /odd R/ },
    );
    await rejects(
      moraCompressForward(gpu, { ...dims, variant: "sharing" as MoraVariant, compressed: c, x: c }),
      { name: "RangeError", message: /"c" has 12 values, expected 30/ },
    );
    x.destroy();
    c.destroy();
  },
});

// The longest float32 sums are gradM's, over rows·chunks ≤ 17·8 = 136 products, and z's over R ≤ 29:
// rounding grows like √terms · 2^-24 of the largest term, ~1e-6 of the largest output; measured worst
// 1.7e-7. An index error is an O(1) relative error, so 1e-5 of the largest |value| still catches it.
const ADAPTER_REL_TOL = 1e-5;

/**
 * Runs moraForward then moraBackward (on the needed chunks, with garbage in the scratch tensors) and
 * compares out, gradM and dx with the full float64 reference.
 */
async function checkAdapter(gpu: Gpu, rng: Rng, d: MoraDims): Promise<void> {
  const what = `${d.variant} ${d.inF}×${d.outF} R=${d.R} rows=${d.rows}`;
  const [x, M, dout] = [rng.floats(d.rows * d.inF), rng.floats(d.R * d.R), rng.floats(d.rows * d.outF)];
  const [base, dxBase] = [rng.floats(d.rows * d.outF), rng.floats(d.rows * d.inF)];
  // Every scratch tensor starts as garbage: each must be overwritten before it is read.
  const scratch = moraScratch(
    d,
    (role, shape) => upload(gpu, role, rng.floats(shape[0]! * shape[1]!), shape),
  );
  const t = {
    out: upload(gpu, "out", base, [d.rows, d.outF]),
    x: upload(gpu, "x", x, [d.rows, d.inF]),
    M: upload(gpu, "M", M, [d.R, d.R]),
    dx: upload(gpu, "dx", dxBase, [d.rows, d.inF]),
    gradM: upload(gpu, "gradM", rng.floats(d.R * d.R), [d.R, d.R]), // garbage: must be overwritten
    dout: upload(gpu, "dout", dout, [d.rows, d.outF]),
  };
  await runDispatches(gpu, [
    ...await moraForward(gpu, { ...d, ...scratch, out: t.out, x: t.x, M: t.M }),
    ...await moraBackward(gpu, { ...d, ...scratch, dx: t.dx, gradM: t.gradM, dout: t.dout, x: t.x, M: t.M }),
  ]);
  const x64 = Float64Array.from(x);
  const M64 = Float64Array.from(M);
  const { y } = moraForwardCpu(x64, d.rows, d.inF, d.outF, M64, d.R, d.variant);
  const grads = moraBackwardCpu(x64, Float64Array.from(dout), d.rows, d.inF, d.outF, M64, d.R, d.variant);
  const expected = {
    out: y.map((v, i) => v + base[i]!),
    gradM: grads.gradM,
    dx: grads.gradX.map((v, i) => v + dxBase[i]!),
  };
  for (const name of ["out", "gradM", "dx"] as const) {
    const got = await readTensor(t[name]);
    const scale = Math.max(...expected[name].map(Math.abs));
    assertAllClose(got, expected[name], { atol: ADAPTER_REL_TOL * scale, rtol: 0 }, `${what}: ${name}`);
  }
  for (const tensor of [...Object.values(t), ...Object.values(scratch)]) tensor.destroy();
}

for (const variant of MORA_VARIANTS) {
  Deno.test({
    name: `MoRA ${variant} adapter forward/backward (compress, matmul, decompress) matches the CPU reference`,
    ...gpuTest,
    async fn() {
      const gpu = await testGpu();
      const rng = new Rng(variant.length * 104729);
      for (const [inF, outF] of SHAPES) {
        await checkAdapter(gpu, rng, { rows: ROWS, inF, outF, R: moraRank(inF, outF, 4, variant), variant });
      }
      await checkAdapter(gpu, rng, { rows: 3, inF: 5, outF: 9, R: 18, variant }); // pad > in
      // The reference config's attention shape: P = R = 44, whose rotation halves (22) are not vec4-aligned.
      await checkAdapter(gpu, rng, { rows: ROWS, inF: 128, outF: 128, R: 44, variant });
      // Identity decompression (the matmul accumulates into out, dz = dout): out = chunks·R or R, R a
      // multiple of 4 (R = out = 22 is padded to 24 columns, so z is not out's layout).
      const identity = isChunked(variant) ? { inF: 64, outF: 64, R: 16 } : { inF: 40, outF: 24, R: 24 };
      strictEqual(moraDecompressionIsIdentity({ rows: 9, ...identity, variant }), true);
      strictEqual(moraDecompressionIsIdentity({ rows: 9, inF: 44, outF: 22, R: 22, variant }), false);
      await checkAdapter(gpu, rng, { rows: 9, ...identity, variant });
    },
  });
}

/**
 * (in, out, R) around the needed-chunks cut n′ = ceil(min(out, L)/R), L = ceil(in/R)·R, with n′ expected:
 * out < L (also with R padded to P = R + 2, and a down_proj: 2 of 8 chunks), out = n′·R < L and out = L
 * (identity), out > L (tile repeats), out < R, and pad > in with out below and above L.
 */
const NEEDED_CHUNK_SHAPES = [
  { inF: 100, outF: 40, R: 16, needed: 3 },
  { inF: 100, outF: 40, R: 18, needed: 3 },
  { inF: 512, outF: 128, R: 72, needed: 2 },
  { inF: 100, outF: 32, R: 16, needed: 2 },
  { inF: 30, outF: 32, R: 8, needed: 4 },
  { inF: 30, outF: 70, R: 8, needed: 4 },
  { inF: 50, outF: 7, R: 20, needed: 1 },
  { inF: 5, outF: 9, R: 18, needed: 1 },
  { inF: 5, outF: 40, R: 18, needed: 1 },
];

for (const variant of ["decouple", "rotation"] as const) {
  Deno.test({
    name: `MoRA ${variant} computes only the chunks that reach the output, equal to the full definition`,
    ...gpuTest,
    async fn() {
      const gpu = await testGpu();
      const rng = new Rng(variant.length * 31337);
      for (const { needed, ...shape } of NEEDED_CHUNK_SHAPES) {
        for (const rows of [9, 17]) {
          const d = { rows, ...shape, variant };
          strictEqual(moraCompressedShape(d)[0], rows * needed, `${variant} ${shape.inF}×${shape.outF}`);
          await checkOperators(gpu, rng, d);
          await checkAdapter(gpu, rng, d);
        }
      }
    },
  });
}

Deno.test({
  name: "MoRA adapter ops reject a missing z scratch when the decompression is not the identity",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const d = { rows: 2, inF: 10, outF: 6, R: 4, variant: "rotation" as const };
    const t = {
      x: createTensor(gpu, "x", [2, 10]),
      out: createTensor(gpu, "out", [2, 6]),
      M: createTensor(gpu, "M", [4, 4]),
      compressed: createTensor(gpu, "compressed", moraCompressedShape(d)),
    };
    await rejects(moraForward(gpu, { ...d, ...t }), { name: "RangeError", message: /z is missing/ });
    await rejects(
      moraBackward(gpu, { ...d, ...t, gradM: t.M, dout: t.out }),
      { name: "RangeError", message: /z is missing/ },
    );
    for (const tensor of Object.values(t)) tensor.destroy();
  },
});

/**
 * Parity of MoRA's operators with the authors' reference code: a vectors file like `testdata/golden/mora.json`
 * (per case: x, g; per variant: r̂, M, the output y, ΔW, and ∂Σ(y·g)/∂M, in float64). Each case and variant runs
 * the WebGPU adapter path (compress, square matmul, decompress, and their backward) on a zero base weight, so the
 * layer output is the adapter's; ΔW is the float64 merge. One line per case and variant, the worst of y, ∂M and ΔW.
 *
 * Tolerance: float32 kernels against float64 on values of order 1–10 summed over up to in + r̂ terms: 1e-5 of each
 * quantity's scale (measured ≤ 3e-7); the reference's "6-f64tables" variant uses float64 rotation tables, ours are
 * float32-derived as the reference code computes them (≤ 1.1e-7 apart), well within that.
 *
 * @module
 */

import { MoraLayer } from "../adapters/mora.ts";
import { moraDeltaWeightCpu } from "../ops/mora/reference.ts";
import { MORA_REFERENCE_TYPE, MORA_VARIANTS, moraRank, type MoraVariant } from "../ops/mora/variants.ts";
import type { Gpu } from "../gpu/device.ts";
import { runDispatches } from "../gpu/kernel.ts";
import { ScratchPool } from "../gpu/scratch.ts";
import { createTensor, readTensor, writeTensor } from "../gpu/tensor.ts";
import { DenseLinear } from "../model/linear.ts";
import { compareValues, type ParityLine, type ParityTolerance } from "./compare.ts";

const TOL: ParityTolerance = { atol: 1e-5, rtol: 1e-5 };

/** One variant of a case in the vectors file (float64 values as nested arrays). */
export interface VectorsVariant {
  /** The reference's key: `"1"`…`"4"`, `"6"`, `"6-f64tables"`, `"decouple"`, `"truncation"`. */
  variant: string;
  r_hat: number;
  M: number[][];
  /** f_comp(x) per row: (rows, r̂), or (rows, chunks, r̂) for the chunked variants. */
  compressed: number[][] | number[][][];
  y: number[][];
  delta_w: number[][] | null;
  grad_M: number[][];
  /** Rotation tables the reference used (type 6). */
  rope_cos?: number[][];
  rope_sin?: number[][];
}

/** One case of the vectors file. */
export interface VectorsCase {
  in_features: number;
  out_features: number;
  r: number;
  batch: number;
  x: number[][];
  g: number[][];
  variants: VectorsVariant[];
}

/** The reference's variant key (`"1"`, `"6"`, `"6-f64tables"`, `"decouple"`, …) as one of ours. */
export function variantOfKey(key: string): MoraVariant {
  const byType = MORA_VARIANTS.find((v) => String(MORA_REFERENCE_TYPE[v]) === key.split("-")[0]);
  const variant = byType ?? MORA_VARIANTS.find((v) => v === key);
  if (!variant) throw new RangeError(`Unknown MoRA variant "${key}" in the vectors file`);
  return variant;
}

const flat = (nested: number[][]) => Float64Array.from(nested.flat());

/** Reads and checks the vectors file. */
export async function readMoraVectors(path: string): Promise<VectorsCase[]> {
  let json: { cases?: VectorsCase[] } | null;
  try {
    json = JSON.parse(await Deno.readTextFile(path));
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    throw new SyntaxError(
      `MoRA vectors "${path}" are not valid JSON (${error.message}); expected the layout of ` +
        `testdata/golden/mora.json`,
    );
  }
  if (!Array.isArray(json?.cases) || json.cases.length === 0) {
    throw new SyntaxError(
      `MoRA vectors "${path}" have no "cases"; expected the layout of testdata/golden/mora.json`,
    );
  }
  return json!.cases!;
}

/** Merges several lines into one: ok when all are, the worst errors, the total count. */
function worst(quantity: string, lines: ParityLine[]): ParityLine {
  return {
    quantity,
    count: lines.reduce((n, l) => n + l.count, 0),
    maxAbs: Math.max(...lines.map((l) => l.maxAbs)),
    maxRel: Math.max(...lines.map((l) => l.maxRel)),
    ok: lines.every((l) => l.ok),
  };
}

/** Runs one case and variant on the GPU and compares r̂, y, ∂M and ΔW. */
async function variantParity(gpu: Gpu, c: VectorsCase, v: VectorsVariant): Promise<ParityLine> {
  const { in_features: inF, out_features: outF, batch: rows } = c;
  const variant = variantOfKey(v.variant);
  const label = `${inF}×${outF} r=${c.r} variant ${v.variant} (${variant}), r̂ ${v.r_hat}`;
  const rank = moraRank(inF, outF, c.r, variant);
  if (rank !== v.r_hat) {
    return { quantity: `${label}: r̂ ${rank}`, count: 1, maxAbs: Infinity, maxRel: Infinity, ok: false };
  }
  const weight = createTensor(gpu, "w0", [outF, inF]);
  const layer = new MoraLayer(gpu, new DenseLinear("vectors", weight), new ScratchPool(gpu), variant, c.r);
  const tensors = {
    x: createTensor(gpu, "x", [rows, inF], Float32Array.from(c.x.flat())),
    dy: createTensor(gpu, "g", [rows, outF], Float32Array.from(c.g.flat())),
    out: createTensor(gpu, "y", [rows, outF]),
  };
  try {
    const { x, dy, out } = tensors;
    writeTensor(layer.m, Float32Array.from(v.M.flat()));
    await runDispatches(gpu, [
      ...await layer.forward(gpu, { out, x, rows }),
      ...await layer.backward(gpu, { accumulateDx: false, dy, x, rows }),
    ]);
    const lines = [
      compareValues("y", await readTensor(out), flat(v.y), TOL),
      compareValues("grad_M", await readTensor(layer.gradM), flat(v.grad_M), TOL),
    ];
    if (v.delta_w) {
      const deltaW = moraDeltaWeightCpu(inF, outF, flat(v.M), rank, variant);
      lines.push(compareValues("delta_w", deltaW, flat(v.delta_w), TOL));
    }
    return worst(`${label}: ${lines.map((l) => l.quantity).join(", ")}`, lines);
  } finally {
    layer.destroy();
    for (const t of [weight, ...Object.values(tensors)]) t.destroy();
  }
}

/** One line per case and variant of a MoRA vectors file. */
export async function moraParity(gpu: Gpu, path: string): Promise<ParityLine[]> {
  const lines: ParityLine[] = [];
  for (const c of await readMoraVectors(path)) {
    for (const v of c.variants) lines.push(await variantParity(gpu, c, v));
  }
  return lines;
}

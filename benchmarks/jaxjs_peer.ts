/**
 * jax-js's WebAssembly matmul as a peer of ours, timed in the same run (issue "Speed": our matmul should be
 * ahead of jax-js's WebAssembly matmul measured in the same run). jax-js compiles its kernels to
 * WebAssembly SIMD and runs them on worker threads over the same cores the software adapter uses, so on a
 * CPU it is what a JavaScript user would pick instead of WebGPU. Its pool sleeps between calls (measured:
 * under 1 ms of CPU time per idle second), so it does not slow the kernels timed after it.
 *
 * The operands are copied in once; a repetition is one product, waited for (`blockUntilReady`) and freed.
 * They must hold real data: jax-js folds products of constant arrays such as `np.ones`.
 *
 * @module
 */

import { defaultDevice, init, numpy as np } from "@jax-js/jax";
import type { RepeatedWork } from "../lib/harness/timing.ts";

/** The peer's name in records and the report. */
export const JAXJS_WASM = "jax-js 0.1.25 (WebAssembly)";

/** A product `a·b` held by jax-js: repeatable work, the product itself, and a way to free the operands. */
export interface PeerMatmul {
  /** Computes the product `repetitions` times, waiting for each. */
  work: RepeatedWork;
  /** The product, row-major (m, n). */
  product(): Promise<Float32Array>;
  /** Frees the operands. */
  dispose(): void;
}

/**
 * Copies `a` (m, k) and `b` (k, n), row-major, into jax-js's WebAssembly backend.
 *
 * @throws {Error} when the backend does not start.
 */
export async function jaxWasmMatmul(
  a: Float32Array<ArrayBuffer>,
  b: Float32Array<ArrayBuffer>,
  m: number,
  n: number,
  k: number,
): Promise<PeerMatmul> {
  if (a.length !== m * k || b.length !== k * n) {
    throw new RangeError(
      `jax-js matmul: operands of ${a.length} and ${b.length} values are not (${m}, ${k})·(${k}, ${n})`,
    );
  }
  const devices = await init("wasm");
  if (!devices.includes("wasm")) throw new Error("jax-js's WebAssembly backend did not start");
  defaultDevice("wasm");
  const ja = np.array(a, { shape: [m, k] });
  const jb = np.array(b, { shape: [k, n] });
  return {
    async work(repetitions) {
      for (let r = 0; r < repetitions; r++) (await np.matmul(ja.ref, jb.ref).blockUntilReady()).dispose();
    },
    async product() {
      return Float32Array.from(await np.matmul(ja.ref, jb.ref).data());
    },
    dispose() {
      ja.dispose();
      jb.dispose();
    },
  };
}

/**
 * Tensors: float32 GPU storage buffers with a shape and a name. All allocation goes through
 * {@link createTensor}, which checks the device limits before anything is dispatched and counts
 * live and peak bytes on `gpu.memory`.
 *
 * @module
 */

import type { Gpu, GpuLimits } from "./device.ts";

/** A float32 (or u32/i32, same 4-byte element) GPU buffer with a row-major shape. */
export class Tensor {
  /** Whether {@link Tensor.destroy} was called. */
  destroyed = false;

  /**
   * Wraps an allocated storage buffer (use `createTensor`, which checks the size and allocates).
   *
   * @param gpu the context that owns the buffer
   * @param name what the tensor is, used in every error about it
   * @param shape row-major dimensions
   * @param buffer the storage buffer (at least 4 bytes, even for empty tensors)
   */
  constructor(
    readonly gpu: Gpu,
    readonly name: string,
    readonly shape: readonly number[],
    readonly buffer: GPUBuffer,
  ) {}

  /** Number of elements. */
  get size(): number {
    return shapeSize(this.shape);
  }

  /** Bytes of the data (not counting the 4-byte minimum of an empty tensor). */
  get bytes(): number {
    return this.size * 4;
  }

  /** Frees the buffer and updates the memory counter; idempotent. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.gpu.memory.free(this.buffer.size);
    this.buffer.destroy();
  }
}

/** Product of the dimensions. */
export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Values a tensor can be filled with: 32-bit words backed by a plain ArrayBuffer. */
export type TensorData = Float32Array<ArrayBuffer> | Uint32Array<ArrayBuffer> | Int32Array<ArrayBuffer>;

/** Thrown when a tensor does not fit the device; nothing was allocated. */
export class TensorTooLargeError extends RangeError {
  /** The error's name, for `instanceof`-free checks and messages. */
  override name = "TensorTooLargeError";
}

/** The device limits a tensor's size is checked against. */
export type TensorLimits = Pick<GpuLimits, "maxStorageBufferBindingSize" | "maxBufferSize">;

/**
 * Throws, naming the tensor, its size and the limit it passes, when a float32 tensor of `shape` exceeds
 * `maxStorageBufferBindingSize` (one storage binding) or `maxBufferSize` (one buffer); checked before any
 * allocation, so nothing is created.
 *
 * @throws {TensorTooLargeError}
 */
export function checkTensorFits(limits: TensorLimits, name: string, shape: readonly number[]): void {
  const bytes = shapeSize(shape) * 4;
  const [limit, which] = limits.maxStorageBufferBindingSize <= limits.maxBufferSize
    ? [limits.maxStorageBufferBindingSize, "maxStorageBufferBindingSize"]
    : [limits.maxBufferSize, "maxBufferSize"];
  if (bytes <= limit) return;
  const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
  throw new TensorTooLargeError(
    `Cannot create tensor "${name}" [${shape.join(", ")}]: ${bytes} bytes exceed the device limit of ` +
      `${limit} bytes (${mib(bytes)} > ${mib(limit)}, the device's ${which}); use a smaller batch, ` +
      `sequence or model, or a device with a larger limit`,
  );
}

/**
 * Allocates a zero-filled tensor, optionally uploading `data`.
 *
 * @throws {TensorTooLargeError} when the tensor exceeds `maxBufferSize` or `maxStorageBufferBindingSize`.
 * @example Allocate a (2, 3) tensor with data, and count its bytes
 * ```ts
 * import assert from "node:assert/strict";
 * import { requestGpu } from "./device.ts";
 * import { createTensor, readTensor } from "./tensor.ts";
 *
 * const gpu = await requestGpu();
 * const x = createTensor(gpu, "x", [2, 3], new Float32Array([1, 2, 3, 4, 5, 6]));
 * assert.equal(x.size, 6);
 * assert.equal(x.bytes, 24);
 * assert.deepEqual(await readTensor(createTensor(gpu, "zeros", [2])), new Float32Array([0, 0]));
 * gpu.device.destroy();
 * ```
 */
export function createTensor(
  gpu: Gpu,
  name: string,
  shape: readonly number[],
  data?: TensorData,
): Tensor {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new RangeError(`Cannot create tensor "${name}": invalid shape [${shape.join(", ")}]`);
    }
  }
  checkTensorFits(gpu.limits, name, shape);
  const bytes = shapeSize(shape) * 4;
  if (data && data.length !== shapeSize(shape)) {
    throw new RangeError(
      `Cannot create tensor "${name}": ${data.length} values given for shape [${shape.join(", ")}]`,
    );
  }
  const size = Math.max(4, bytes);
  const buffer = gpu.device.createBuffer({
    label: name,
    size,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
  });
  gpu.memory.allocate(size);
  const tensor = new Tensor(gpu, name, shape, buffer);
  if (data && data.length > 0) writeTensor(tensor, data);
  return tensor;
}

const scratchScopes = new WeakMap<Gpu, Tensor[][]>();

/**
 * Runs `build` so that every {@link scratchTensor} it allocates is recorded in `owned`: a plan frees the
 * scratch its ops allocated together with its own tensors. Scopes nest; builds must not interleave.
 */
export async function collectScratch<T>(gpu: Gpu, owned: Tensor[], build: () => Promise<T>): Promise<T> {
  let stack = scratchScopes.get(gpu);
  if (!stack) scratchScopes.set(gpu, stack = []);
  stack.push(owned);
  try {
    return await build();
  } finally {
    stack.pop();
  }
}

/**
 * Allocates an op's scratch tensor (partial sums, tables), recorded in the innermost {@link collectScratch}
 * scope so it lives as long as the plan that uses it; outside any scope it lives until destroyed.
 */
export function scratchTensor(gpu: Gpu, name: string, shape: readonly number[]): Tensor {
  const tensor = createTensor(gpu, name, shape);
  scratchScopes.get(gpu)?.at(-1)?.push(tensor);
  return tensor;
}

/**
 * An allocator that records what it creates in `owned`, so a plan frees its tensors together; `prefix` is
 * put before every name.
 */
export function ownedAllocator(
  gpu: Gpu,
  owned: Tensor[],
  prefix = "",
): (name: string, shape: readonly number[]) => Tensor {
  return (name, shape) => {
    const tensor = createTensor(gpu, `${prefix}${name}`, shape);
    owned.push(tensor);
    return tensor;
  };
}

/** Copies `data` into the tensor (queued; visible to the next submitted work). */
export function writeTensor(tensor: Tensor, data: TensorData, offset = 0): void {
  if (offset + data.length > tensor.size) {
    throw new RangeError(
      `Cannot write ${data.length} values at ${offset} into tensor "${tensor.name}" of ${tensor.size}`,
    );
  }
  tensor.gpu.device.queue.writeBuffer(tensor.buffer, offset * 4, data);
}

/**
 * Reads the tensor back to the CPU (waits for all submitted work).
 *
 * @example Write values and read them back
 * ```ts
 * import assert from "node:assert/strict";
 * import { requestGpu } from "./device.ts";
 * import { createTensor, readTensor, writeTensor } from "./tensor.ts";
 *
 * const gpu = await requestGpu();
 * const x = createTensor(gpu, "x", [4]);
 * writeTensor(x, new Float32Array([0.5, -2]), 2); // into elements 2 and 3
 * assert.deepEqual(await readTensor(x), new Float32Array([0, 0, 0.5, -2]));
 * gpu.device.destroy();
 * ```
 */
export async function readTensor(tensor: Tensor): Promise<Float32Array<ArrayBuffer>> {
  return new Float32Array(await readTensorBytes(tensor));
}

/** Reads the tensor back as raw 32-bit words, for u32/i32 tensors. */
export async function readTensorU32(tensor: Tensor): Promise<Uint32Array<ArrayBuffer>> {
  return new Uint32Array(await readTensorBytes(tensor));
}

async function readTensorBytes(tensor: Tensor): Promise<ArrayBuffer> {
  if (tensor.destroyed) throw new Error(`Cannot read tensor "${tensor.name}": it was destroyed`);
  const { device } = tensor.gpu;
  const bytes = tensor.bytes;
  if (bytes === 0) return new ArrayBuffer(0);
  const staging = device.createBuffer({
    size: bytes,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  const encoder = device.createCommandEncoder();
  encoder.copyBufferToBuffer(tensor.buffer, 0, staging, 0, bytes);
  device.queue.submit([encoder.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const copy = staging.getMappedRange().slice(0);
  staging.unmap();
  staging.destroy();
  return copy;
}

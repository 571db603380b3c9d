/**
 * Compiling WGSL kernels into cached pipelines, binding tensors into {@link Dispatch}es, and running a
 * list of dispatches as one compute pass in one command buffer.
 *
 * Binding convention shared by every kernel in `kernels/`:
 * - `@binding(0)` is `var<uniform> params: Params` when the op passes `params`;
 * - the op's tensors follow at `@binding(1)`, `@binding(2)`, ... in the order given.
 * `Params` lists its `u32` fields first, then its `f32` fields, each 4 bytes, as {@link packParams} writes them.
 *
 * Specialization: every op fills its `kernels/` template with `specialize` (lib/gpu/template.ts),
 * which carries the source's `override` constants too. The pipeline cache keys on the kernel's name, its
 * constants and its full source.
 *
 * @module
 */

import type { Gpu } from "./device.ts";
import type { KernelTemplate } from "./template.ts";
import type { Tensor } from "./tensor.ts";

/** A named WGSL source, as imported from `kernels/*.wgsl`. */
export interface KernelSource {
  /** Name used in errors and labels, e.g. `"rmsnorm_forward"`. */
  name: string;
  /** WGSL text with one `@compute` entry point called `main`. */
  code: string;
  /** For a specialized source (`specialize`, lib/gpu/template.ts): the template it was filled from. */
  template?: KernelTemplate;
  /** For a specialized source: the template `file:line` each of its lines came from, for errors. */
  origins?: readonly string[];
  /** Values of its `override` constants, given to the pipeline. */
  constants?: Readonly<Record<string, number>>;
}

/** One bound kernel launch, built once and encoded any number of times. */
export interface Dispatch {
  /** Kernel name, for errors and profiles. */
  label: string;
  /** The compiled pipeline. */
  pipeline: GPUComputePipeline;
  /** Params and tensors bound per the convention above. */
  bindGroup: GPUBindGroup;
  /** Workgroup counts in x, y, z. */
  workgroups: readonly [number, number, number];
}

/** Uniform values: `u32` fields first, then `f32` fields. */
export interface Params {
  /** Unsigned integer fields, in declaration order. */
  u32?: readonly number[];
  /** Float fields, in declaration order after the u32 fields. */
  f32?: readonly number[];
}

/** Thrown when WGSL fails to compile; the message has the kernel name, line and compiler text. */
export class KernelCompileError extends Error {
  override name = "KernelCompileError";
}

const pipelineCache = new WeakMap<GPUDevice, Map<string, Promise<GPUComputePipeline>>>();

/**
 * Returns the cached compute pipeline of `kernel` with its `override` constants, compiling it once.
 *
 * @throws {KernelCompileError} naming the kernel, line and message when WGSL does not compile.
 */
export function getPipeline(gpu: Gpu, kernel: KernelSource): Promise<GPUComputePipeline> {
  const constants = kernel.constants ?? {};
  let cache = pipelineCache.get(gpu.device);
  if (!cache) pipelineCache.set(gpu.device, cache = new Map());
  const key = `${kernel.name}|${JSON.stringify(constants)}|${kernel.code}`;
  let pipeline = cache.get(key);
  if (!pipeline) {
    pipeline = compile(gpu, kernel, constants);
    cache.set(key, pipeline);
  }
  return pipeline;
}

async function compile(
  gpu: Gpu,
  kernel: KernelSource,
  constants: Readonly<Record<string, number>>,
): Promise<GPUComputePipeline> {
  const { device } = gpu;
  device.pushErrorScope("validation");
  const module = device.createShaderModule({ label: kernel.name, code: kernel.code });
  const info = await module.getCompilationInfo();
  const errors = info.messages.filter((m) => m.type === "error");
  const scopeError = await device.popErrorScope();
  if (errors.length > 0 || scopeError) {
    const lines = errors.map((m) => `  ${sourceLocation(kernel, m.lineNum, m.linePos)}: ${m.message}`);
    const specialized = kernel.template ? ` (specialized from ${kernel.template.file})` : "";
    throw new KernelCompileError(
      `Cannot compile kernel "${kernel.name}"${specialized}:\n${lines.join("\n") || scopeError?.message}`,
    );
  }
  try {
    return await device.createComputePipelineAsync({
      label: kernel.name,
      layout: "auto",
      compute: { module, entryPoint: "main", constants },
    });
  } catch (error) {
    throw new KernelCompileError(
      `Cannot create pipeline for kernel "${kernel.name}" with constants ${JSON.stringify(constants)}: ` +
        (error as Error).message,
    );
  }
}

/**
 * `file:line:column` of a compiler message: for a specialized source, the template line it came from
 * and the offending text (a filled or repeated line stands for several).
 */
function sourceLocation(kernel: KernelSource, line: number, column: number): string {
  const origin = kernel.origins?.[line - 1];
  if (!origin) return `kernels/${kernel.name}.wgsl:${line}:${column}`;
  const text = kernel.code.split("\n")[line - 1] ?? "";
  return `${origin}:${column} (line ${line} of "${kernel.name}": ${JSON.stringify(text.trim())})`;
}

/** Writes params into bytes as the convention says: u32 fields, then f32 fields, padded to 16 bytes. */
export function packParams(params: Params): ArrayBuffer {
  const u = params.u32 ?? [];
  const f = params.f32 ?? [];
  const words = Math.max(4, Math.ceil((u.length + f.length) / 4) * 4);
  const buffer = new ArrayBuffer(words * 4);
  const asU32 = new Uint32Array(buffer);
  const asF32 = new Float32Array(buffer);
  u.forEach((value, i) => {
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
      throw new RangeError(`Cannot pack u32 param ${i}: ${value} is not an unsigned 32-bit integer`);
    }
    asU32[i] = value;
  });
  f.forEach((value, i) => asF32[u.length + i] = value);
  return buffer;
}

/** What {@link makeDispatch} binds. */
export interface DispatchSpec {
  /** Uniform params at binding 0, or none. */
  params?: Params;
  /** Tensors at bindings 1, 2, ... */
  tensors: readonly Tensor[];
  /** Workgroup counts; each must be within `maxComputeWorkgroupsPerDimension`. */
  workgroups: readonly [number, number, number];
}

/**
 * Compiles (or reuses) the kernel and binds params and tensors into a {@link Dispatch}.
 *
 * @throws {RangeError} when a workgroup count exceeds the device limit, or on a binding mismatch.
 */
export async function makeDispatch(gpu: Gpu, kernel: KernelSource, spec: DispatchSpec): Promise<Dispatch> {
  const max = gpu.limits.maxComputeWorkgroupsPerDimension;
  if (spec.workgroups.some((n) => n > max)) {
    throw new RangeError(
      `Cannot dispatch kernel "${kernel.name}": workgroups [${spec.workgroups.join(", ")}] exceed the ` +
        `device limit of ${max} per dimension`,
    );
  }
  const pipeline = await getPipeline(gpu, kernel);
  const { device } = gpu;
  const entries: GPUBindGroupEntry[] = [];
  if (spec.params) {
    const bytes = packParams(spec.params);
    const buffer = device.createBuffer({
      label: `${kernel.name}.params`,
      size: bytes.byteLength,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    device.queue.writeBuffer(buffer, 0, bytes);
    entries.push({ binding: 0, resource: { buffer } });
  }
  spec.tensors.forEach((tensor, i) => {
    if (tensor.destroyed) {
      throw new Error(`Cannot bind tensor "${tensor.name}" to kernel "${kernel.name}": it was destroyed`);
    }
    entries.push({ binding: i + 1, resource: { buffer: tensor.buffer } });
  });
  device.pushErrorScope("validation");
  const bindGroup = device.createBindGroup({
    label: kernel.name,
    layout: pipeline.getBindGroupLayout(0),
    entries,
  });
  const error = await device.popErrorScope();
  if (error) {
    const names = spec.tensors.map((t) => t.name).join(", ");
    throw new RangeError(`Cannot bind [${names}] to kernel "${kernel.name}": ${error.message}`);
  }
  return { label: kernel.name, pipeline, bindGroup, workgroups: spec.workgroups };
}

/** Encodes the dispatches, in order, as one compute pass of `encoder`. */
export function encodeDispatches(encoder: GPUCommandEncoder, dispatches: readonly Dispatch[]): void {
  const pass = encoder.beginComputePass();
  for (const d of dispatches) {
    if (d.workgroups[0] === 0 || d.workgroups[1] === 0 || d.workgroups[2] === 0) continue;
    pass.setPipeline(d.pipeline);
    pass.setBindGroup(0, d.bindGroup);
    pass.dispatchWorkgroups(d.workgroups[0], d.workgroups[1], d.workgroups[2]);
  }
  pass.end();
}

/** Submits the dispatches as one command buffer, without waiting. */
export function submitDispatches(gpu: Gpu, dispatches: readonly Dispatch[]): void {
  const encoder = gpu.device.createCommandEncoder();
  encodeDispatches(encoder, dispatches);
  gpu.device.queue.submit([encoder.finish()]);
}

/** Submits the dispatches as one command buffer and waits for the GPU to finish. */
export async function runDispatches(gpu: Gpu, dispatches: readonly Dispatch[]): Promise<void> {
  submitDispatches(gpu, dispatches);
  await gpu.device.queue.onSubmittedWorkDone();
}

/**
 * Workgroup counts covering `count` workgroups in a 2-D grid, since one dimension holds at most
 * `maxComputeWorkgroupsPerDimension` (65535 by default). Kernels recover the linear workgroup index as
 * `wid.x + wid.y * num_workgroups.x` and return when it is past the end.
 */
export function grid(gpu: Gpu, count: number): [number, number, number] {
  const max = gpu.limits.maxComputeWorkgroupsPerDimension;
  if (count <= max) return [count, 1, 1];
  const y = Math.ceil(count / max);
  return [Math.ceil(count / y), y, 1];
}

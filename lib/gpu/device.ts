/**
 * Acquiring a WebGPU adapter and device, and the {@link Gpu} context every op takes.
 *
 * The device is requested with the adapter's own limits (the WebGPU defaults allow only 8 storage
 * buffers per stage and 128 MiB bindings) and with `timestamp-query` where the adapter offers it.
 *
 * @module
 */

import { MemoryCounter } from "./memory.ts";

/** What we record about the adapter next to every result. */
export interface AdapterDescription {
  /** Vendor id or name as reported by the driver. */
  vendor: string;
  /** Architecture string (often empty on software adapters). */
  architecture: string;
  /** Human-readable description, e.g. `llvmpipe (LLVM 15.0.6, 256 bits)`. */
  description: string;
  /** True for software adapters such as Mesa's lavapipe/llvmpipe: timings are CPU timings. */
  isFallbackAdapter: boolean;
}

/** Limits that ops check before they dispatch anything. */
export interface GpuLimits {
  /** Largest single storage-buffer binding, bytes. */
  maxStorageBufferBindingSize: number;
  /** Largest buffer, bytes. */
  maxBufferSize: number;
  /** Storage buffers one shader stage may bind. */
  maxStorageBuffersPerShaderStage: number;
  /** Largest workgroup count in one dimension. */
  maxComputeWorkgroupsPerDimension: number;
  /** Workgroup shared memory, bytes. */
  maxComputeWorkgroupStorageSize: number;
  /** Invocations in one workgroup. */
  maxComputeInvocationsPerWorkgroup: number;
}

/** The context every op takes: the device, what it can hold, and the allocation counter. */
export interface Gpu {
  /** The WebGPU device. */
  device: GPUDevice;
  /** The adapter as recorded in results. */
  adapter: AdapterDescription;
  /** The limits the device was created with (the adapter's own). */
  limits: GpuLimits;
  /** Whether `timestamp-query` was granted. */
  hasTimestamps: boolean;
  /** Live and peak bytes of every buffer allocated through this context. */
  memory: MemoryCounter;
}

/** Thrown when no WebGPU adapter can be had; the message says how to get one. */
export class GpuUnavailableError extends Error {
  /** `"GpuUnavailableError"`, which the command-line wrapper prints as one `error:` line. */
  override name = "GpuUnavailableError";
}

const NO_ADAPTER_HINT = "Install a GPU driver with Vulkan support, or, without a GPU, Mesa's software " +
  "Vulkan driver: `apt-get install -y mesa-vulkan-drivers` (Debian/Ubuntu), then run again";

const REQUESTED_LIMITS = [
  "maxStorageBufferBindingSize",
  "maxBufferSize",
  "maxStorageBuffersPerShaderStage",
  "maxComputeWorkgroupsPerDimension",
  "maxComputeWorkgroupStorageSize",
  "maxComputeInvocationsPerWorkgroup",
  "maxComputeWorkgroupSizeX",
  "maxComputeWorkgroupSizeY",
  "maxUniformBufferBindingSize",
] as const;

/**
 * Gives the process a private `XDG_RUNTIME_DIR` (a fresh temporary folder of mode 0700, removed at exit)
 * when none is set, so the Vulkan loader's Wayland probe does not print "XDG_RUNTIME_DIR is invalid or not
 * set in the environment" to every command's output. It must run before the first adapter request. Without
 * the permissions to read the variable and create the folder it leaves the environment as it is.
 */
export function ensureRuntimeDir(): void {
  const granted = (descriptor: Deno.PermissionDescriptor) =>
    Deno.permissions.querySync(descriptor).state === "granted";
  if (!granted({ name: "env", variable: "XDG_RUNTIME_DIR" }) || Deno.env.get("XDG_RUNTIME_DIR")) return;
  if (!granted({ name: "write" })) return;
  const dir = Deno.makeTempDirSync({ prefix: "mora-runtime-" });
  Deno.chmodSync(dir, 0o700);
  Deno.env.set("XDG_RUNTIME_DIR", dir);
  globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
}

/** Options of {@link requestGpu}. */
export interface RequestGpuOptions {
  /** `"high-performance"` (default) or `"low-power"`. */
  powerPreference?: GPUPowerPreference;
}

/**
 * Requests an adapter and a device with the adapter's own limits.
 *
 * @throws {GpuUnavailableError} when `navigator.gpu` is missing or no adapter is found.
 * @example Acquire a device
 * ```ts
 * const gpu = await requestGpu();
 * console.log(gpu.adapter.description, gpu.adapter.isFallbackAdapter);
 * gpu.device.destroy();
 * ```
 */
export async function requestGpu(options: RequestGpuOptions = {}): Promise<Gpu> {
  ensureRuntimeDir();
  if (typeof navigator === "undefined" || !("gpu" in navigator) || !navigator.gpu) {
    throw new GpuUnavailableError(`Cannot use WebGPU: navigator.gpu is not available. ${NO_ADAPTER_HINT}`);
  }
  const adapter = await navigator.gpu.requestAdapter({
    powerPreference: options.powerPreference ?? "high-performance",
  });
  if (!adapter) throw new GpuUnavailableError(`Cannot find a WebGPU adapter. ${NO_ADAPTER_HINT}`);
  const requiredLimits: Record<string, number> = {};
  for (const name of REQUESTED_LIMITS) requiredLimits[name] = adapter.limits[name];
  const hasTimestamps = adapter.features.has("timestamp-query");
  const device = await adapter.requestDevice({
    requiredLimits,
    requiredFeatures: hasTimestamps ? ["timestamp-query"] : [],
  });
  device.addEventListener("uncapturederror", (event) => {
    console.error(`WebGPU error: ${(event as GPUUncapturedErrorEvent).error.message}`);
  });
  const info = adapter.info;
  return {
    device,
    adapter: {
      vendor: info.vendor,
      architecture: info.architecture,
      description: info.description || info.device || "unknown adapter",
      isFallbackAdapter: info.isFallbackAdapter ?? false,
    },
    limits: {
      maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize,
      maxBufferSize: device.limits.maxBufferSize,
      maxStorageBuffersPerShaderStage: device.limits.maxStorageBuffersPerShaderStage,
      maxComputeWorkgroupsPerDimension: device.limits.maxComputeWorkgroupsPerDimension,
      maxComputeWorkgroupStorageSize: device.limits.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: device.limits.maxComputeInvocationsPerWorkgroup,
    },
    hasTimestamps,
    memory: new MemoryCounter(),
  };
}

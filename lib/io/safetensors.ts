/**
 * Safetensors read and write (https://github.com/huggingface/safetensors): an 8-byte little-endian
 * header length `N`, `N` bytes of JSON header `{name: {dtype, shape, data_offsets: [begin, end]},
 * "__metadata__"?: {string: string}}`, then the data section; offsets are relative to its start.
 *
 * Reading validates the whole header up front, so a malformed file fails on open with a message
 * that names the file and the tensor, never later with silent zeros. Values are little-endian, as
 * is every host Deno runs on (x86-64, arm64), so tensors are copied and viewed as typed arrays.
 *
 * @module
 */

/** Bytes per element of every dtype this reader knows. */
const DTYPE_BYTES: Record<string, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
};

const FLOAT_DTYPES = new Set(["F64", "F32", "F16", "BF16"]);
const METADATA_KEY = "__metadata__";

/** One tensor's header entry, validated. */
interface Entry {
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

/** An opened safetensors file: the validated header plus typed access to each tensor. */
export interface SafetensorsFile {
  /** Where the bytes came from, as used in error messages. */
  readonly source: string;
  /** The `__metadata__` map (empty when the file has none). */
  readonly metadata: Record<string, string>;
  /** Tensor names in header order. */
  names(): string[];
  /** Whether the file holds a tensor called `name`. */
  has(name: string): boolean;
  /** The tensor's shape (a copy). */
  shape(name: string): number[];
  /** The tensor's dtype as written in the header, e.g. `"F32"`. */
  dtype(name: string): string;
  /** A float tensor (F64, F32, F16, BF16) as float32. */
  f32(name: string): Float32Array<ArrayBuffer>;
  /** A float tensor (F64, F32, F16, BF16) as float64. */
  f64(name: string): Float64Array<ArrayBuffer>;
  /** An integer or bool tensor as int32; values outside the int32 range are an error. */
  int(name: string): Int32Array<ArrayBuffer>;
}

/** Product of the dimensions. */
function numel(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isCount(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

/** The header length a file declares in its first 8 bytes, checked against the file's `size`. */
function headerLength(first: Uint8Array, size: number, source: string): number {
  if (size < 8) {
    throw new RangeError(
      `Safetensors file "${source}" is ${size} bytes, shorter than its 8-byte header length; ` +
        `re-create the file`,
    );
  }
  const length = new DataView(first.buffer, first.byteOffset, 8).getBigUint64(0, true);
  if (length > BigInt(size - 8)) {
    throw new RangeError(
      `Safetensors file "${source}" declares a header of ${length} bytes but has only ` +
        `${size - 8} after the length; the file is truncated or not safetensors, re-create it`,
    );
  }
  return Number(length);
}

/**
 * Reads the header length and JSON header from `bytes` (the file's first bytes, at least through the header,
 * of a file of `size` bytes); returns the header object and where data starts.
 */
function readHeader(
  bytes: Uint8Array,
  source: string,
  size = bytes.length,
): { header: Record<string, unknown>; start: number } {
  const length = headerLength(bytes, size, source);
  const start = 8 + length;
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, start)));
  } catch (e) {
    throw new SyntaxError(
      `Safetensors file "${source}" has an invalid JSON header (${(e as Error).message}); re-create the file`,
    );
  }
  if (!isRecord(header)) {
    throw new SyntaxError(
      `Safetensors file "${source}" has a header that is not a JSON object; re-create the file`,
    );
  }
  return { header, start };
}

/** Validates the `__metadata__` entry: a flat string-to-string map. */
function parseMetadata(value: unknown, source: string): Record<string, string> {
  if (value === undefined) return {};
  if (!isRecord(value) || !Object.values(value).every((v) => typeof v === "string")) {
    throw new TypeError(
      `Safetensors file "${source}" has "${METADATA_KEY}" that is not a map of strings to strings; ` +
        `re-create the file`,
    );
  }
  return { ...value } as Record<string, string>;
}

/** Validates one tensor's header entry against the size of the data section. */
function parseEntry(name: string, value: unknown, dataLength: number, source: string): Entry {
  const where = `Tensor "${name}" in "${source}"`;
  if (!isRecord(value)) {
    throw new TypeError(`${where} has a header entry that is not an object; re-create the file`);
  }
  const { dtype, shape, data_offsets: offsets } = value;
  if (typeof dtype !== "string" || DTYPE_BYTES[dtype] === undefined) {
    throw new TypeError(
      `${where} has unknown dtype ${JSON.stringify(dtype)}; ` +
        `convert it to one of ${Object.keys(DTYPE_BYTES).join(", ")}`,
    );
  }
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    throw new TypeError(`${where} has shape ${JSON.stringify(shape)}, not a list of non-negative integers`);
  }
  const [begin, end] = Array.isArray(offsets) && offsets.length === 2 ? offsets : [];
  if (!isCount(begin) || !isCount(end) || begin > end) {
    throw new TypeError(
      `${where} has data_offsets ${JSON.stringify(offsets)}, not [begin, end] with begin <= end`,
    );
  }
  if (end > dataLength) {
    throw new RangeError(
      `${where} has data_offsets [${begin}, ${end}] outside the data section of ${dataLength} bytes; ` +
        `the file is truncated, re-create it`,
    );
  }
  const expected = numel(shape) * DTYPE_BYTES[dtype]!;
  if (end - begin !== expected) {
    throw new RangeError(
      `${where} has ${end - begin} bytes but dtype "${dtype}" with shape [${shape.join(", ")}] needs ` +
        `${expected}; re-create the file`,
    );
  }
  return { dtype, shape: [...shape], begin, end };
}

/** Throws when two tensors' byte ranges overlap. */
function checkNoOverlap(entries: Map<string, Entry>, source: string): void {
  const sorted = [...entries].filter(([, e]) => e.end > e.begin).sort(([, a], [, b]) => a.begin - b.begin);
  for (let i = 1; i < sorted.length; i++) {
    const [prevName, prev] = sorted[i - 1]!;
    const [name, cur] = sorted[i]!;
    if (cur.begin < prev.end) {
      throw new RangeError(
        `Tensors "${prevName}" [${prev.begin}, ${prev.end}] and "${name}" [${cur.begin}, ${cur.end}] ` +
          `overlap in "${source}"; re-create the file`,
      );
    }
  }
}

/** Decodes one IEEE half-precision value. */
function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

let halfTable: Float32Array | undefined;

/** Every half-precision value by its 16 bits (exact in float32), built on first use. */
function halfValues(): Float32Array {
  if (!halfTable) halfTable = Float32Array.from({ length: 0x10000 }, (_, h) => halfToNumber(h));
  return halfTable;
}

/** Decodes a float tensor's bytes (a private copy) into float32: F16 and BF16 exactly, F64 rounded. */
function decodeFloat32(dtype: string, buffer: ArrayBuffer): Float32Array<ArrayBuffer> {
  switch (dtype) {
    case "F64":
      return Float32Array.from(new Float64Array(buffer));
    case "F32":
      return new Float32Array(buffer);
    case "F16": {
      const table = halfValues();
      const halves = new Uint16Array(buffer);
      const out = new Float32Array(halves.length);
      for (let i = 0; i < halves.length; i++) out[i] = table[halves[i]!]!;
      return out;
    }
    default: { // BF16: the top half of a float32
      const halves = new Uint16Array(buffer);
      const bits = new Uint32Array(halves.length);
      for (let i = 0; i < halves.length; i++) bits[i] = halves[i]! << 16;
      return new Float32Array(bits.buffer);
    }
  }
}

/** Decodes a float tensor's bytes (a private copy) into float64. */
function decodeFloat(dtype: string, buffer: ArrayBuffer): Float64Array<ArrayBuffer> {
  return dtype === "F64" ? new Float64Array(buffer) : Float64Array.from(decodeFloat32(dtype, buffer));
}

/** Views an integer tensor's bytes (a private copy) as numbers; 64-bit values as bigints. */
function integerView(dtype: string, buffer: ArrayBuffer): ArrayLike<number | bigint> {
  switch (dtype) {
    case "I64":
      return new BigInt64Array(buffer);
    case "U64":
      return new BigUint64Array(buffer);
    case "I32":
      return new Int32Array(buffer);
    case "U32":
      return new Uint32Array(buffer);
    case "I16":
      return new Int16Array(buffer);
    case "U16":
      return new Uint16Array(buffer);
    case "I8":
      return new Int8Array(buffer);
    default: // U8, BOOL
      return new Uint8Array(buffer);
  }
}

/** Opens an in-memory safetensors file; `source` names it in errors. The header is validated now. */
export function parseSafetensors(bytes: Uint8Array, source: string): SafetensorsFile {
  const { header, start } = readHeader(bytes, source);
  const data = bytes.subarray(start);
  return safetensorsView(header, data.length, source, (begin, end) => data.slice(begin, end).buffer);
}

/**
 * A file's tensors from its validated header; `read(begin, end)` gives a private copy of the data section's
 * bytes in that range (from memory, or from disk).
 */
function safetensorsView(
  header: Record<string, unknown>,
  dataLength: number,
  source: string,
  read: (begin: number, end: number) => ArrayBuffer,
): SafetensorsFile {
  const metadata = parseMetadata(header[METADATA_KEY], source);
  const entries = new Map<string, Entry>();
  for (const [name, value] of Object.entries(header)) {
    if (name !== METADATA_KEY) entries.set(name, parseEntry(name, value, dataLength, source));
  }
  checkNoOverlap(entries, source);

  const entry = (name: string): Entry => {
    const e = entries.get(name);
    if (e) return e;
    const known = [...entries.keys()];
    const list = known.slice(0, 8).join(", ") + (known.length > 8 ? ", …" : "");
    throw new RangeError(
      `Tensor "${name}" is not in "${source}"; it has ${known.length} tensors (${list}), check the name`,
    );
  };
  const copy = (e: Entry): ArrayBuffer => read(e.begin, e.end);
  const floatEntry = (name: string): Entry => {
    const e = entry(name);
    if (!FLOAT_DTYPES.has(e.dtype)) {
      throw new TypeError(
        `Tensor "${name}" in "${source}" is ${e.dtype}, not a float dtype; read it with int()`,
      );
    }
    return e;
  };

  return {
    source,
    metadata,
    names: () => [...entries.keys()],
    has: (name) => entries.has(name),
    shape: (name) => [...entry(name).shape],
    dtype: (name) => entry(name).dtype,
    f64(name) {
      const e = floatEntry(name);
      return decodeFloat(e.dtype, copy(e));
    },
    f32(name) {
      const e = floatEntry(name);
      return decodeFloat32(e.dtype, copy(e));
    },
    int(name) {
      const e = entry(name);
      if (FLOAT_DTYPES.has(e.dtype)) {
        throw new TypeError(
          `Tensor "${name}" in "${source}" is ${e.dtype}, not an integer dtype; read it with f32()`,
        );
      }
      return toInt32(integerView(e.dtype, copy(e)), name, source);
    },
  };
}

/** Copies integers into an Int32Array, rejecting any value outside the int32 range. */
function toInt32(values: ArrayLike<number | bigint>, name: string, source: string): Int32Array<ArrayBuffer> {
  const out = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = Number(values[i]!);
    if (v < -0x80000000 || v > 0x7fffffff) {
      throw new RangeError(
        `Tensor "${name}" in "${source}" holds ${values[i]} at index ${i}, outside the int32 range; ` +
          `it cannot be read as int32`,
      );
    }
    out[i] = v;
  }
  return out;
}

/** Reads `length` bytes at `offset` of an open file. */
function readAt(file: Deno.FsFile, offset: number, length: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(length);
  file.seekSync(offset, Deno.SeekMode.Start);
  for (let at = 0; at < length;) {
    const n = file.readSync(out.subarray(at));
    if (n === null) {
      throw new RangeError(`File ended after ${offset + at} bytes; it changed while being read`);
    }
    at += n;
  }
  return out;
}

/** Reads and opens a safetensors file (the whole file is read into memory). */
export async function readSafetensors(path: string): Promise<SafetensorsFile> {
  return parseSafetensors(await Deno.readFile(path), path);
}

/**
 * Opens a safetensors file whose header is read and validated now, and each tensor's bytes read from disk
 * when asked for, so the file is never held in memory whole (a 7B checkpoint's shards are several GB each).
 * The view reads the file as it is then: it is for reading a checkpoint through, not across a rewrite of it.
 */
async function openSafetensorsOnDisk(path: string): Promise<SafetensorsFile> {
  const { size } = await Deno.stat(path);
  const file = await Deno.open(path);
  let header: Record<string, unknown>, start: number;
  try {
    const first = readAt(file, 0, Math.min(8, size));
    const length = headerLength(first, size, path);
    ({ header, start } = readHeader(readAt(file, 0, 8 + length), path, size));
  } finally {
    file.close();
  }
  return safetensorsView(header, size - start, path, (begin, end) => {
    const data = Deno.openSync(path);
    try {
      return readAt(data, start + begin, end - begin).buffer;
    } finally {
      data.close();
    }
  });
}

/** Reads a shard index's `weight_map` (tensor name → shard file name), naming what is wrong with it. */
function parseWeightMap(text: string, indexPath: string): Map<string, string> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new SyntaxError(
      `Shard index "${indexPath}" is not valid JSON (${(e as Error).message}); re-save it`,
    );
  }
  const map = isRecord(json) ? json.weight_map : undefined;
  if (!isRecord(map) || Object.keys(map).length === 0) {
    throw new SyntaxError(
      `Shard index "${indexPath}" has no "weight_map" of tensor names to shard files; re-save the checkpoint`,
    );
  }
  const out = new Map<string, string>();
  for (const [name, file] of Object.entries(map)) {
    if (typeof file !== "string" || file === "" || /[\\/]/.test(file) || file.startsWith(".")) {
      throw new SyntaxError(
        `Shard index "${indexPath}" maps tensor "${name}" to ${JSON.stringify(file)}, not a file name in ` +
          `the index's folder; re-save the checkpoint`,
      );
    }
    out.set(name, file);
  }
  return out;
}

/** Throws unless every shard holds exactly the tensors the index maps to it. */
function checkShardContents(
  weightMap: ReadonlyMap<string, string>,
  shards: ReadonlyMap<string, SafetensorsFile>,
  indexPath: string,
): void {
  for (const [name, file] of weightMap) {
    if (!shards.get(file)!.has(name)) {
      throw new RangeError(
        `Shard index "${indexPath}" puts tensor "${name}" in "${file}", which does not hold it; the shards ` +
          `and the index are from different saves, re-download or re-save the checkpoint`,
      );
    }
  }
  for (const [file, shard] of shards) {
    const extra = shard.names().find((name) => weightMap.get(name) !== file);
    if (extra !== undefined) {
      throw new RangeError(
        `Shard "${shard.source}" holds tensor "${extra}", which the index "${indexPath}" does not map to it; ` +
          `the shards and the index are from different saves, re-download or re-save the checkpoint`,
      );
    }
  }
}

/**
 * Opens a sharded safetensors checkpoint from its index (`model.safetensors.index.json`: `{"metadata": …,
 * "weight_map": {tensor: shard file}}`, as `save_pretrained` writes it), as one file: every shard's header is
 * read and validated now, and each tensor must be in exactly the shard the index names; tensors are read from
 * disk one at a time when asked for, so the shards are never in memory whole.
 */
export async function readShardedSafetensors(indexPath: string): Promise<SafetensorsFile> {
  const weightMap = parseWeightMap(await Deno.readTextFile(indexPath), indexPath);
  const folder = indexPath.slice(0, Math.max(0, indexPath.lastIndexOf("/") + 1));
  const shards = new Map<string, SafetensorsFile>();
  for (const file of new Set(weightMap.values())) {
    try {
      shards.set(file, await openSafetensorsOnDisk(folder + file));
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      throw new Deno.errors.NotFound(
        `Shard "${
          folder + file
        }" named by "${indexPath}" does not exist; download every shard of the checkpoint`,
      );
    }
  }
  checkShardContents(weightMap, shards, indexPath);
  const shardOf = (name: string): SafetensorsFile => {
    const file = weightMap.get(name);
    if (file !== undefined) return shards.get(file)!;
    throw new RangeError(
      `Tensor "${name}" is not in the sharded checkpoint "${indexPath}" (${weightMap.size} tensors); check the name`,
    );
  };
  return {
    source: indexPath,
    metadata: {},
    names: () => [...weightMap.keys()],
    has: (name) => weightMap.has(name),
    shape: (name) => shardOf(name).shape(name),
    dtype: (name) => shardOf(name).dtype(name),
    f32: (name) => shardOf(name).f32(name),
    f64: (name) => shardOf(name).f64(name),
    int: (name) => shardOf(name).int(name),
  };
}

/** A tensor to write: its row-major shape and float32 or int32 values. */
export interface TensorToWrite {
  /** Row-major dimensions; their product must equal `data.length`. */
  shape: number[];
  /** Values, written as F32 or I32 according to the array type. */
  data: Float32Array | Int32Array;
}

/**
 * Encodes tensors as safetensors bytes, in the given order and contiguous, with the header padded
 * with spaces to a multiple of 8 bytes as the reference writer does.
 */
export function encodeSafetensors(
  tensors: Record<string, TensorToWrite>,
  metadata?: Record<string, string>,
): Uint8Array<ArrayBuffer> {
  const header: Record<string, unknown> = metadata ? { [METADATA_KEY]: metadata } : {};
  let offset = 0;
  for (const [name, { shape, data }] of Object.entries(tensors)) {
    if (name === METADATA_KEY) {
      throw new RangeError(`Cannot write a tensor named "${METADATA_KEY}"; rename it`);
    }
    if (!shape.every(isCount) || numel(shape) !== data.length) {
      throw new RangeError(
        `Cannot write tensor "${name}": shape [${shape.join(", ")}] does not match its ${data.length} values`,
      );
    }
    const dtype = data instanceof Float32Array ? "F32" : "I32";
    header[name] = { dtype, shape, data_offsets: [offset, offset + data.byteLength] };
    offset += data.byteLength;
  }
  const text = new TextEncoder().encode(JSON.stringify(header));
  const json = new Uint8Array(Math.ceil(text.length / 8) * 8).fill(0x20); // spaces
  json.set(text);
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const { data } of Object.values(tensors)) {
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), at);
    at += data.byteLength;
  }
  return out;
}

/**
 * Writes `bytes` to `path` atomically: to a temporary file in the same folder, flushed to disk, then
 * renamed over `path`, so a crash leaves either the old file or the new one, never half of one.
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const temp = `${path}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  try {
    const file = await Deno.open(temp, { write: true, createNew: true });
    try {
      for (let at = 0; at < bytes.length;) at += await file.write(bytes.subarray(at));
      await file.syncData();
    } finally {
      file.close();
    }
    await Deno.rename(temp, path);
  } catch (e) {
    await Deno.remove(temp).catch(() => {});
    throw e;
  }
}

/** Writes tensors (F32 / I32) and optional metadata to a safetensors file, atomically. */
export async function writeSafetensors(
  path: string,
  tensors: Record<string, TensorToWrite>,
  metadata?: Record<string, string>,
): Promise<void> {
  await writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

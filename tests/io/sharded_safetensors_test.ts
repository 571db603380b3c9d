import assert from "node:assert/strict";
import { join } from "node:path";
import { parseSafetensors, readShardedSafetensors, writeSafetensors } from "../../lib/io/safetensors.ts";

/** Runs `body` with a fresh temporary folder, removed afterwards. */
async function withTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const vector = (...values: number[]) => ({ shape: [values.length], data: Float32Array.from(values) });

/** Two shards: a and b in the first, c in the second, and the index mapping them. */
async function writeShards(dir: string, weightMap: Record<string, string>): Promise<string> {
  await writeSafetensors(join(dir, "model-00001-of-00002.safetensors"), { a: vector(1, 2), b: vector(3) });
  await writeSafetensors(join(dir, "model-00002-of-00002.safetensors"), { c: vector(4, 5, 6) });
  const index = join(dir, "model.safetensors.index.json");
  await Deno.writeTextFile(index, JSON.stringify({ metadata: { total_size: 24 }, weight_map: weightMap }));
  return index;
}

const GOOD_MAP = {
  a: "model-00001-of-00002.safetensors",
  b: "model-00001-of-00002.safetensors",
  c: "model-00002-of-00002.safetensors",
};

Deno.test("sharded safetensors read as one file, each tensor from the shard the index names", async () => {
  await withTempDir(async (dir) => {
    const file = await readShardedSafetensors(await writeShards(dir, GOOD_MAP));
    assert.deepEqual(file.names(), ["a", "b", "c"]);
    assert.deepEqual(Array.from(file.f32("c")), [4, 5, 6]);
    assert.deepEqual(file.shape("a"), [2]);
    assert.equal(file.dtype("b"), "F32");
    assert.throws(() => file.f32("d"), /Tensor "d" is not in the sharded checkpoint/);
  });
});

Deno.test("sharded safetensors refuse an index that disagrees with its shards, naming the tensor", async () => {
  await withTempDir(async (dir) => {
    const misplaced = { ...GOOD_MAP, b: "model-00002-of-00002.safetensors" };
    await assert.rejects(
      readShardedSafetensors(await writeShards(dir, misplaced)),
      /puts tensor "b" in "model-00002-of-00002.safetensors", which does not hold it/,
    );
    const { b: _, ...unmapped } = GOOD_MAP;
    await assert.rejects(
      readShardedSafetensors(await writeShards(dir, unmapped)),
      /holds tensor "b", which the index ".*" does not map to it/,
    );
    const missing = { ...GOOD_MAP, c: "model-00003-of-00003.safetensors" };
    await assert.rejects(
      readShardedSafetensors(await writeShards(dir, missing)),
      /Shard ".*model-00003-of-00003.safetensors" named by ".*" does not exist/,
    );
    const outside = { ...GOOD_MAP, c: "../elsewhere.safetensors" };
    await assert.rejects(readShardedSafetensors(await writeShards(dir, outside)), /not a file name in/);
    await assert.rejects(readShardedSafetensors(await writeShards(dir, {})), /has no "weight_map"/);
  });
});

Deno.test("F16 decoding agrees with Float16Array on all 65536 bit patterns", () => {
  const bits = Uint16Array.from({ length: 0x10000 }, (_, i) => i);
  const header = new TextEncoder().encode(
    JSON.stringify({ h: { dtype: "F16", shape: [0x10000], data_offsets: [0, 0x20000] } }),
  );
  const bytes = new Uint8Array(8 + header.length + 0x20000);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(header.length), true);
  bytes.set(header, 8);
  bytes.set(new Uint8Array(bits.buffer), 8 + header.length);
  const decoded = parseSafetensors(bytes, "all-halves").f32("h");
  const reference = Float32Array.from(new Float16Array(bits.buffer));
  // Element-wise with Object.is (NaN payloads may differ in bits, which typed-array deepEqual compares).
  assert.deepEqual(Array.from(decoded), Array.from(reference));
});

Deno.test("a truncated shard is refused on open, naming it, before any tensor is read", async () => {
  await withTempDir(async (dir) => {
    const index = await writeShards(dir, GOOD_MAP);
    const shard = join(dir, "model-00002-of-00002.safetensors");
    const bytes = await Deno.readFile(shard);
    await Deno.writeFile(shard, bytes.subarray(0, bytes.length - 4));
    await assert.rejects(
      readShardedSafetensors(index),
      /Tensor "c" in ".*model-00002-of-00002.safetensors" has data_offsets \[0, 12\] outside the data section/,
    );
    await Deno.writeFile(shard, bytes.subarray(0, 20));
    await assert.rejects(readShardedSafetensors(index), /declares a header of \d+ bytes but has only 12/);
    await Deno.writeFile(shard, bytes.subarray(0, 5));
    await assert.rejects(readShardedSafetensors(index), /is 5 bytes, shorter than its 8-byte header length/);
  });
});

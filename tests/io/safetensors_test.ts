import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  encodeSafetensors,
  parseSafetensors,
  readSafetensors,
  writeSafetensors,
} from "../../lib/io/safetensors.ts";

const golden = (file: string) =>
  fileURLToPath(new URL(`../../testdata/golden/llama-tiny/${file}`, import.meta.url));

/** A safetensors file from a raw header (object or exact text) and data bytes. */
function rawFile(header: unknown, data: Uint8Array = new Uint8Array(), declaredLength?: number): Uint8Array {
  const json = new TextEncoder().encode(typeof header === "string" ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(declaredLength ?? json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

/** Little-endian bytes of 16-bit words. */
function words16(values: number[]): Uint8Array {
  return new Uint8Array(new Uint16Array(values).buffer);
}

Deno.test("golden model.safetensors: F32 weights with format metadata", async () => {
  const file = await readSafetensors(golden("model.safetensors"));
  assert.deepEqual(file.metadata, { format: "pt" });
  assert.equal(file.names().length, 21);
  assert.equal(file.dtype("model.embed_tokens.weight"), "F32");
  assert.deepEqual(file.shape("model.layers.1.mlp.down_proj.weight"), [32, 88]);
  const w = file.f32("model.layers.0.self_attn.q_proj.weight");
  assert.equal(w.length, 32 * 32);
  assert.ok(w.some((v) => v !== 0) && w.every(Number.isFinite));
  assert.deepEqual(file.f64("model.layers.0.self_attn.q_proj.weight"), Float64Array.from(w));
});

Deno.test("golden case.safetensors: F64 references, int ids and metadata", async () => {
  const file = await readSafetensors(golden("case.safetensors"));
  assert.match(file.metadata.note ?? "", /float64/);
  assert.equal(JSON.parse(file.metadata.adamw!).steps, 5);
  assert.equal(file.dtype("logits"), "F64");
  assert.deepEqual(file.shape("logits"), [2, 12, 64]);
  const loss = file.f64("loss");
  assert.equal(loss.length, 1);
  assert.ok(loss[0]! > 0 && loss[0]! < 10);
  assert.equal(file.f32("loss")[0], Math.fround(loss[0]!));
  const ids = file.int("input_ids");
  assert.equal(ids.length, 24);
  assert.ok(ids.every((id) => id >= 0 && id < 64));
});

Deno.test("write then read round-trips F32 and I32 with metadata, aligned and in order", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "t.safetensors");
    const a = new Float32Array([1.5, -2.25, 3e-8, Infinity, -0, 7]);
    const b = new Int32Array([-2147483648, 0, 2147483647]);
    await writeSafetensors(path, { a: { shape: [2, 3], data: a }, b: { shape: [3], data: b } }, { k: "v" });
    const file = await readSafetensors(path);
    assert.deepEqual(file.names(), ["a", "b"]);
    assert.deepEqual(file.metadata, { k: "v" });
    assert.deepEqual([file.dtype("a"), file.dtype("b")], ["F32", "I32"]);
    assert.deepEqual(file.shape("a"), [2, 3]);
    assert.deepEqual(file.f32("a"), a);
    assert.deepEqual(file.int("b"), b);
    const bytes = await Deno.readFile(path);
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    assert.equal(headerLength % 8, 0);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
    assert.deepEqual(header.a.data_offsets, [0, 24]);
    assert.deepEqual(header.b.data_offsets, [24, 36]);
    assert.deepEqual((await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name), ["t.safetensors"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a failed write leaves the target untouched and no temporary file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const target = join(dir, "occupied");
    await Deno.mkdir(target); // renaming a file over a folder fails
    await assert.rejects(writeSafetensors(target, { a: { shape: [1], data: new Float32Array([1]) } }));
    assert.ok((await Deno.stat(target)).isDirectory);
    assert.deepEqual((await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name), ["occupied"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writing rejects a shape that does not match the data and a reserved name", () => {
  assert.throws(
    () => encodeSafetensors({ w: { shape: [2, 2], data: new Float32Array(3) } }),
    /Cannot write tensor "w": shape \[2, 2\] does not match its 3 values/,
  );
  assert.throws(
    () => encodeSafetensors({ __metadata__: { shape: [1], data: new Float32Array(1) } }),
    /named "__metadata__"/,
  );
});

Deno.test("F16 decoding: normals, subnormals, infinities, NaN and signed zero", () => {
  const bits = [0x3c00, 0xc000, 0x7bff, 0x0400, 0x0001, 0x03ff, 0x3555, 0x7c00, 0xfc00, 0x7e00, 0x8000];
  const expected = [
    1,
    -2,
    65504,
    2 ** -14,
    2 ** -24,
    1023 * 2 ** -24,
    0.333251953125,
    Infinity,
    -Infinity,
    NaN,
    -0,
  ];
  const file = parseSafetensors(
    rawFile({ h: { dtype: "F16", shape: [11], data_offsets: [0, 22] } }, words16(bits)),
    "f16",
  );
  assert.deepEqual(Array.from(file.f64("h")), expected);
  assert.deepEqual(Array.from(file.f32("h")), expected);
});

Deno.test("BF16 decoding: normals, subnormals, infinities and NaN", () => {
  const bits = [0x3f80, 0xc040, 0x4049, 0x0080, 0x0001, 0x7f80, 0xff80, 0x7fc0];
  const expected = [1, -3, 3.140625, 2 ** -126, 2 ** -133, Infinity, -Infinity, NaN];
  const file = parseSafetensors(
    rawFile({ b: { dtype: "BF16", shape: [8], data_offsets: [0, 16] } }, words16(bits)),
    "bf16",
  );
  assert.deepEqual(Array.from(file.f32("b")), expected);
});

Deno.test("integer dtypes convert to int32 and reject values outside its range", () => {
  const ok = new BigInt64Array([-5n, 0n, 2147483647n]);
  const big = new BigInt64Array([1n, 2147483648n]);
  const data = new Uint8Array(40);
  data.set(new Uint8Array(ok.buffer), 0);
  data.set(new Uint8Array(big.buffer), 24);
  const file = parseSafetensors(
    rawFile({
      ok: { dtype: "I64", shape: [3], data_offsets: [0, 24] },
      big: { dtype: "I64", shape: [2], data_offsets: [24, 40] },
    }, data),
    "ids.safetensors",
  );
  assert.deepEqual(file.int("ok"), new Int32Array([-5, 0, 2147483647]));
  assert.throws(() => file.int("big"), /Tensor "big" in "ids.safetensors" holds 2147483648 at index 1/);
  assert.throws(
    () => file.f32("ok"),
    /Tensor "ok" in "ids.safetensors" is I64, not a float dtype; read it with int\(\)/,
  );
});

Deno.test("reading a float tensor as integers is a clear error", () => {
  const file = parseSafetensors(
    rawFile({ x: { dtype: "F32", shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4)),
    "m",
  );
  assert.throws(() => file.int("x"), {
    name: "TypeError",
    message: /is F32, not an integer dtype; read it with f32\(\)/,
  });
});

Deno.test("a missing tensor is named with what the file has", () => {
  const file = parseSafetensors(
    rawFile({ x: { dtype: "F32", shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4)),
    "m",
  );
  assert.equal(file.has("y"), false);
  for (const read of [() => file.f32("y"), () => file.shape("y"), () => file.dtype("y")]) {
    assert.throws(read, /Tensor "y" is not in "m"; it has 1 tensors \(x\), check the name/);
  }
});

/** Each malformed file with the message it must produce. */
const malformed: [string, Uint8Array, RegExp][] = [
  ["shorter than 8 bytes", new Uint8Array(5), /"bad" is 5 bytes, shorter than its 8-byte header length/],
  [
    "header length past the end",
    rawFile({}, new Uint8Array(), 1000),
    /declares a header of 1000 bytes but has only 2/,
  ],
  ["invalid JSON", rawFile('{"x": '), /"bad" has an invalid JSON header/],
  ["header not an object", rawFile("[1, 2]"), /header that is not a JSON object/],
  [
    "unknown dtype",
    rawFile({ x: { dtype: "F8_E4M3", shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1)),
    /Tensor "x" in "bad" has unknown dtype "F8_E4M3"; convert it to one of F64, F32/,
  ],
  [
    "offsets past the data",
    rawFile({ x: { dtype: "F32", shape: [2], data_offsets: [0, 8] } }, new Uint8Array(4)),
    /Tensor "x" in "bad" has data_offsets \[0, 8\] outside the data section of 4 bytes/,
  ],
  [
    "byte length not dtype × shape",
    rawFile({ x: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8)),
    /Tensor "x" in "bad" has 8 bytes but dtype "F32" with shape \[3\] needs 12/,
  ],
  [
    "overlapping tensors",
    rawFile({
      x: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
      y: { dtype: "F32", shape: [1], data_offsets: [4, 8] },
    }, new Uint8Array(8)),
    /Tensors "x" \[0, 8\] and "y" \[4, 8\] overlap in "bad"/,
  ],
  [
    "bad data_offsets",
    rawFile({ x: { dtype: "F32", shape: [1], data_offsets: [4, 0] } }, new Uint8Array(4)),
    /Tensor "x" in "bad" has data_offsets \[4,0\], not \[begin, end\] with begin <= end/,
  ],
  [
    "bad shape",
    rawFile({ x: { dtype: "F32", shape: [-1], data_offsets: [0, 4] } }, new Uint8Array(4)),
    /Tensor "x" in "bad" has shape \[-1\], not a list of non-negative integers/,
  ],
  [
    "non-string metadata",
    rawFile({ __metadata__: { n: 1 } }),
    /"__metadata__" that is not a map of strings to strings/,
  ],
];

for (const [what, bytes, message] of malformed) {
  Deno.test(`malformed file is rejected on open: ${what}`, () => {
    assert.throws(() => parseSafetensors(bytes, "bad"), message);
  });
}

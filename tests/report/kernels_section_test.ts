import assert from "node:assert/strict";
import type { KernelRecord } from "../../lib/records.ts";
import { kernelsSection } from "../../lib/report/kernels_section.ts";
import { SOFTWARE_ENVIRONMENT } from "../_environment.ts";

const software = SOFTWARE_ENVIRONMENT;
const FLOPS = 2 * 1024 ** 3;
const timing = (trialsMs: number[]) => ({
  meanMs: trialsMs.reduce((a, b) => a + b) / trialsMs.length,
  bestMs: Math.min(...trialsMs),
  repetitions: 2,
  trialsMs,
});
const square = (layout: string, trialsMs: number[]): KernelRecord => ({
  op: "matmul",
  label: `${layout} 1024³`,
  params: { layout, m: 1024, n: 1024, k: 1024 },
  pass: "forward",
  flops: FLOPS,
  bytes: 0,
  timing: timing(trialsMs),
});
// 50 GFLOP/s at 1024³ is 42.9 ms.
const records: KernelRecord[] = [
  square("nt", [30, 31, 32, 33]), // ~68 GFLOP/s: met
  square("nn", [80, 82, 84, 86]), // ~25 GFLOP/s: missed
  square("tn", [40, 42, 44, 46]), // crosses 42.9 ms: inconclusive
  {
    op: "matmul-peer",
    label: "nn 1024³ vs peer",
    params: { layout: "nn", m: 1024, n: 1024, k: 1024 },
    pass: "forward",
    flops: FLOPS,
    bytes: 0,
    timing: timing([80, 90, 100, 110]),
    peer: { name: "peer 1.0", timing: timing([40, 45, 50, 55]) },
  },
];

Deno.test("the kernels section pairs our matmul with the peer's round by round", () => {
  const section = kernelsSection(records, software);
  const table = section.tables.find((t) => t.caption?.startsWith("Our matmul against another"))!;
  assert.equal(table.rows.length, 1);
  const [product, , oursGflops, peer, , peerGflops, ratio] = table.rows[0]!;
  assert.equal(product, "1024³");
  assert.equal(peer, "peer 1.0");
  assert.ok(Math.abs(Number(oursGflops) - FLOPS / 95e6) < 1e-9, "ours at its median, 95 ms");
  assert.ok(Math.abs(Number(peerGflops) - FLOPS / 47.5e6) < 1e-9, "the peer at its median, 47.5 ms");
  // Every round's ratio is exactly 2.
  assert.equal(ratio, "2.00 [2.00–2.00]");
});

Deno.test("the matmul targets give each layout's 1024³ verdict and whether we are ahead of the peer", () => {
  const section = kernelsSection(records, software);
  const table = section.tables.find((t) => t.caption?.startsWith("Matmul targets"))!;
  const verdicts = table.rows.map((r) => [String(r[0]).split(" ")[0], r[3]]);
  assert.deepEqual(verdicts, [["nt", "met"], ["nn", "missed"], ["tn", "inconclusive"], ["nn", "missed"]]);
  assert.match(String(table.rows[3]![0]), /our time ÷ the peer's/);
});

Deno.test("the matmul targets are the software adapter's: a real GPU's section has no targets table", () => {
  const gpu = { ...software, adapter: { ...software.adapter, isFallbackAdapter: false } };
  const section = kernelsSection(records, gpu);
  assert.equal(section.tables.some((t) => t.caption?.startsWith("Matmul targets")), false);
});

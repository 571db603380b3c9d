import assert from "node:assert/strict";
import { join } from "node:path";
import type { KernelRecord } from "../../lib/records.ts";
import { kernelsSection } from "../../lib/report/kernels_section.ts";
import { sectionTableFiles, slugify, validateReport } from "../../lib/report/model.ts";
import { tableCsv, writeReport } from "../../lib/report/write.ts";
import { SOFTWARE_ENVIRONMENT } from "../_environment.ts";

const environment = SOFTWARE_ENVIRONMENT;

function timing(bestMs: number) {
  return { meanMs: bestMs * 1.1, bestMs, repetitions: 4, trialsMs: [bestMs, bestMs * 1.2] };
}

/** 19 GFLOP/s (10× below OpenBLAS) for nt 1024³, less for the others. */
const records: KernelRecord[] = [
  {
    op: "matmul",
    label: "nt 1024³",
    params: { layout: "nt", m: 1024, n: 1024, k: 1024 },
    pass: "forward",
    flops: 2 * 1024 ** 3,
    bytes: 0,
    timing: timing(2 * 1024 ** 3 / 19e6),
  },
  {
    op: "matmul",
    label: "nn 512×512×128",
    params: { layout: "nn", m: 512, n: 512, k: 128 },
    pass: "forward",
    flops: 2 * 512 * 512 * 128,
    bytes: 0,
    timing: timing(10),
  },
  {
    op: "attention",
    label: "B8 T64 H4 D32",
    params: { batch: 8, seqLen: 64, heads: 4, headDim: 32 },
    pass: "forward+backward",
    flops: 1e8,
    bytes: 0,
    timing: timing(20),
  },
  {
    op: "rmsnorm",
    label: "512×128",
    params: { rows: 512, dim: 128 },
    pass: "forward+backward",
    flops: 0,
    bytes: 1e6,
    timing: timing(0.5),
  },
];

Deno.test("the kernel section says how far the best matmul is from OpenBLAS and lists the references", () => {
  const section = kernelsSection(records, environment);
  assert.match(
    section.intro,
    /Our best matmul \(nt 1024³\) reaches 19 GFLOP\/s: 10× below OpenBLAS \(190/,
  );
  assert.match(
    section.intro,
    /tfjs-backend-webgpu 4\.22 5\.7, jax-js 0\.1\.25 \(WebGPU\) 5\.4, naive WGSL matmul 1\.8/,
  );
  assert.match(section.intro, /Software-adapter timings/);
  const references = section.tables.find((t) => t.caption === "Matmul reference points")!;
  assert.deepEqual(references.rows.map((r) => r[0]), [
    "This project (nt 1024³)",
    "OpenBLAS sgemm (CPU)",
    "tfjs-backend-webgpu 4.22",
    "jax-js 0.1.25 (WebGPU)",
    "naive WGSL matmul",
  ]);
  assert.deepEqual(references.rows[1]!.slice(1), [190, "the same 2 CPU cores, without WebGPU", "0.100×"]);
  const rms = section.tables.find((t) => t.caption?.startsWith("RMSNorm"))!;
  assert.deepEqual(rms.rows[0]!.slice(0, 2), [512, 128]);
  assert.equal(rms.rows[0]![4], 2); // 1e6 bytes in 0.5 ms = 2 GB/s
  assert.deepEqual(section.charts.map((c) => c.name), [
    "kernels-matmul",
    "kernels-matmul-references",
    "kernels-attention",
    "kernels-rmsnorm",
  ]);
});

Deno.test("a section without matmuls has no OpenBLAS claim and no matmul tables", () => {
  const section = kernelsSection(records.slice(2), environment);
  assert.doesNotMatch(section.intro, /OpenBLAS/);
  assert.equal(section.tables.some((t) => t.caption?.startsWith("Matmul")), false);
});

Deno.test("writeReport writes a self-contained page with inline SVG and every spec with its data", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const section = kernelsSection(records, environment);
    const written = await writeReport(dir, { title: "Bench", environment, sections: [section] });
    const html = await Deno.readTextFile(written.html);
    assert.equal(html.match(/<svg/g)?.length, 4);
    assert.doesNotMatch(html, /<script|<link|src=/);
    assert.equal(written.specs.length, 4);
    const spec = JSON.parse(await Deno.readTextFile(join(dir, "specs", "kernels-matmul.vl.json")));
    assert.equal(spec.data.values.length, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("report validation rejects repeated section ids and unsafe or repeated chart names", () => {
  const section = kernelsSection(records, environment);
  assert.throws(
    () => validateReport({ title: "x", environment, sections: [section, section] }),
    /section id "kernels" repeats/,
  );
  const unsafe = { ...section, charts: [{ ...section.charts[0]!, name: "../evil" }] };
  assert.throws(
    () => validateReport({ title: "x", environment, sections: [unsafe] }),
    /chart name "\.\.\/evil"/,
  );
  const twice = { ...section, charts: [section.charts[0]!, section.charts[0]!] };
  assert.throws(() => validateReport({ title: "x", environment, sections: [twice] }), /repeats/);
  const table = { id: "t", columns: ["a"], rows: [] };
  const tables = { ...section, tables: [table, table] };
  assert.throws(() => validateReport({ title: "x", environment, sections: [tables] }), /table id "t"/);
  const reserved = { ...section, id: "report" };
  assert.throws(() => validateReport({ title: "x", environment, sections: [reserved] }), /not "report"/);
});

Deno.test("every table gets a unique CSV path from its id, its caption's slug or its position", () => {
  assert.equal(slugify("Matmul (forward, float32)"), "matmul-forward-float32");
  assert.equal(slugify("Étude: 1×2 — ok"), "etude-1-2-ok");
  const long = slugify("One training step (forward, backward, clip, AdamW), best and mean of the trials");
  assert.equal(long, "one-training-step-forward-backward-clip-adamw");
  const files = sectionTableFiles("uuid", [
    { caption: "Runs", columns: [], rows: [] },
    { caption: "Runs!", columns: [], rows: [] },
    { id: "table-1", columns: [], rows: [] },
    { columns: [], rows: [] },
  ]);
  assert.deepEqual(files.map((f) => f.path), [
    "tables/uuid-runs.csv",
    "tables/uuid-runs-2.csv",
    "tables/uuid-table-1.csv",
    "tables/uuid-table-4.csv",
  ]);
});

Deno.test("tableCsv quotes by RFC 4180 and keeps numbers at full precision", () => {
  const csv = tableCsv({ columns: ["name", "ms, best"], rows: [['say "hi"', 1.23456789], [null, 42]] });
  assert.equal(csv, 'name,"ms, best"\n"say ""hi""",1.23456789\n,42\n');
});

Deno.test("writeReport writes each table as CSV and the page links every CSV and every spec", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const section = kernelsSection(records, environment);
    const written = await writeReport(dir, { title: "Bench", environment, sections: [section] });
    assert.equal(written.tables.length, 1 + section.tables.length); // the environment table first
    const html = await Deno.readTextFile(written.html);
    for (const path of [...written.tables, ...written.specs]) {
      const relative = path.slice(dir.length + 1);
      assert.match(html, new RegExp(`href="${relative.replaceAll(".", "\\.")}"`), relative);
      assert.ok((await Deno.stat(path)).size > 0, path);
    }
    const matmul = await Deno.readTextFile(join(dir, "tables", "kernels-matmul-forward-float32.csv"));
    const table = section.tables.find((t) => t.caption === "Matmul (forward, float32)")!;
    assert.equal(matmul, tableCsv(table));
    assert.equal(matmul.split("\n")[0], table.columns.join(","));
    const env = await Deno.readTextFile(
      join(dir, "tables", "report-environment-of-the-run-that-wrote-this-report.csv"),
    );
    assert.match(env, /^Property,Value\nAdapter,/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

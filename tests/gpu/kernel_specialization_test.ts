import assert from "node:assert/strict";
import { getPipeline, KernelCompileError } from "../../lib/gpu/kernel.ts";
import { specialize } from "../../lib/gpu/template.ts";
import { gpuTest, testGpu } from "../_gpu.ts";

const piece = { file: "kernels/test_piece.wgsl", code: "const ROWS = {{ROWS}}u;" };
const template = {
  file: "kernels/test_template.wgsl",
  code: "// {{BODY}} in a comment stays.\n@compute @workgroup_size(1)\nfn main() {\n  {{BODY}}\n" +
    "  let y: f32 = undefined_name;\n}\n",
  pieces: [piece],
};

Deno.test("a specialization is built once, with its pieces first, and named after its values", () => {
  const spec = { slots: { BODY: "let a = 1;\nlet b = 2;", ROWS: 4 }, constants: { WG: 8 } };
  const kernel = specialize(template, spec);
  assert.equal(specialize(template, structuredClone(spec)), kernel);
  assert.equal(kernel.name, "test_template[BODY=let a = 1;\nlet b = 2;,ROWS=4,WG=8]");
  assert.deepEqual(kernel.constants, { WG: 8 });
  const lines = kernel.code.split("\n");
  assert.equal(lines[0], "const ROWS = 4u;");
  assert.equal(lines[1], "// {{BODY}} in a comment stays.");
  // A value of several lines is indented like its placeholder; each line keeps its template line.
  assert.deepEqual(lines.slice(4, 6), ["  let a = 1;", "  let b = 2;"]);
  assert.deepEqual(kernel.origins?.slice(0, 6), [
    "kernels/test_piece.wgsl:1",
    "kernels/test_template.wgsl:1",
    "kernels/test_template.wgsl:2",
    "kernels/test_template.wgsl:3",
    "kernels/test_template.wgsl:4",
    "kernels/test_template.wgsl:4",
  ]);
});

Deno.test("a generated specialization is generated once per variant", () => {
  let generated = 0;
  const generate = ({ rows }: { rows: number }) => {
    generated++;
    return { slots: { BODY: `let r = ${rows};`, ROWS: rows } };
  };
  const one = specialize(template, { rows: 3 }, generate);
  assert.equal(specialize(template, { rows: 3 }, generate), one);
  assert.notEqual(specialize(template, { rows: 5 }, generate), one);
  assert.equal(generated, 2);
  assert.equal(one.name, "test_template[rows=3]");
});

Deno.test("line repetition unrolls sums and lines per counter, in the order given", () => {
  const code = "let s_{r} = {+c: x{r}_{c} +};\n// {r} in a comment stays";
  const kernel = specialize({ file: "kernels/test_repeat.wgsl", code }, { repeat: { r: 2, c: 3 } });
  assert.equal(
    kernel.code,
    "let s_0 = (x0_0 + x0_1 + x0_2);\nlet s_1 = (x1_0 + x1_1 + x1_2);\n// {r} in a comment stays",
  );
});

Deno.test("a placeholder without a value, or a value without a placeholder, is refused", () => {
  assert.throws(
    () => specialize(template, { slots: { ROWS: 1 } }),
    /Cannot specialize kernels\/test_template\.wgsl:4: pass a value for \{\{BODY\}\}/,
  );
  assert.throws(
    () => specialize(template, { slots: { BODY: "", ROWS: 1, COLS: 2 } }),
    /"COLS" is not in it or its pieces/,
  );
});

Deno.test({
  name: "two sources of one name and length get different pipelines (the cache keys on the full source)",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const body = (value: string) =>
      `@group(0) @binding(1) var<storage, read_write> out: array<f32>;\n` +
      `@compute @workgroup_size(1)\nfn main() {\n  out[0] = ${value};\n}\n`;
    const one = await getPipeline(gpu, { name: "same_length", code: body("1.0") });
    const two = await getPipeline(gpu, { name: "same_length", code: body("2.0") });
    assert.notEqual(one, two);
    assert.equal(await getPipeline(gpu, { name: "same_length", code: body("1.0") }), one);
  },
});

Deno.test({
  name: "a compile error in a specialized source cites the template file and line and the specialization",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const kernel = specialize(template, { slots: { BODY: "let a = 1;\nlet b = 2;", ROWS: 2 } });
    await assert.rejects(
      () => getPipeline(gpu, kernel),
      (e: Error) =>
        e instanceof KernelCompileError &&
        e.message.includes(`Cannot compile kernel "${kernel.name}" (specialized from ${template.file})`) &&
        // The bad line is line 7 of the specialized source (after the piece and two filled lines)
        // and line 5 of the template.
        /kernels\/test_template\.wgsl:5:\d+ \(line 7 of [^)]*undefined_name/.test(e.message),
    );
    const filled = specialize(template, { slots: { BODY: "let z: f32 = undefined_name;", ROWS: 3 } });
    await assert.rejects(
      () => getPipeline(gpu, filled),
      (e: Error) =>
        e instanceof KernelCompileError &&
        e.message.includes(`kernels/test_template.wgsl:4:`) &&
        e.message.includes(`"let z: f32 = undefined_name;")`),
    );
  },
});

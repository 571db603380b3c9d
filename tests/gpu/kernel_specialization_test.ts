import assert from "node:assert/strict";
import { getPipeline, KernelCompileError, specializeKernel } from "../../lib/gpu/kernel.ts";
import { gpuTest, testGpu } from "../_gpu.ts";

const template = {
  file: "kernels/test_template.wgsl",
  code: "@compute @workgroup_size(1)\nfn main() {\n  {{BODY}}\n  let y: f32 = undefined_name;\n}\n",
};

Deno.test("a specialized source is built once per name and template, and keeps its template", () => {
  let fills = 0;
  const fill = (code: string) => {
    fills++;
    return code.replace("{{BODY}}", "let x = 1;");
  };
  const first = specializeKernel("test_template_one", template, fill);
  const again = specializeKernel("test_template_one", template, fill);
  assert.equal(again, first);
  assert.equal(fills, 1);
  assert.equal(first.template, template);
  assert.match(first.code, /let x = 1;/);
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
    const kernel = specializeKernel(
      "test_template_two",
      template,
      (code) => code.replace("{{BODY}}", "let a = 1;\n  let b = 2;"),
    );
    await assert.rejects(
      () => getPipeline(gpu, kernel),
      (e: Error) =>
        e instanceof KernelCompileError &&
        e.message.includes(`Cannot compile kernel "test_template_two" (specialized from ${template.file})`) &&
        // The bad line is line 5 of the specialized source and line 4 of the template.
        /kernels\/test_template\.wgsl:4:\d+:[\s\S]*undefined_name/.test(e.message),
    );
    const filled = specializeKernel(
      "test_template_three",
      template,
      (code) => code.replace("{{BODY}}", "let z: f32 = undefined_name;"),
    );
    await assert.rejects(
      () => getPipeline(gpu, filled),
      (e: Error) =>
        e instanceof KernelCompileError &&
        e.message.includes(`kernels/test_template.wgsl (line 3:`) &&
        e.message.includes(`of "test_template_three": "let z: f32 = undefined_name;")`),
    );
  },
});

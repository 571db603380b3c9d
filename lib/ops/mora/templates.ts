/**
 * The WGSL templates of MoRA's row-looping kernels (`kernels/mora_*.wgsl`, launched by `operators.ts`)
 * and the shared pieces put before them (lib/gpu/template.ts), specialized by {@link moraKernel}.
 *
 * Each kernel comes after the tiling prologue (kernels/mora_tiling.wgsl) and, when it has a `_vec4` form
 * (four columns per thread, for feature counts a multiple of 4), after its op's piece
 * `kernels/mora_<op>_common.wgsl`: what the op computes, its Params and KIND, which the one-column and the
 * four-column kernels share. The two rotation `_vec4` kernels share their aligned-load flags
 * (kernels/mora_rotate_vec4_loads.wgsl), the two rotation backward kernels their per-row accumulator bound
 * (kernels/mora_row_accumulators.wgsl), both decompression kernels the statements finding an output
 * column's source slot (kernels/mora_decompress_source.wgsl, their `{{SOURCE}}`), and the compression
 * backward and decompression kernels the contiguous grouping (kernels/mora_contiguous_group.wgsl).
 *
 * @module
 */

import contiguousGroupCode from "../../../kernels/mora_contiguous_group.wgsl" with { type: "text" };
import compressCode from "../../../kernels/mora_compress.wgsl" with { type: "text" };
import compressBackwardCode from "../../../kernels/mora_compress_backward.wgsl" with { type: "text" };
import compressBackwardCommonCode from "../../../kernels/mora_compress_backward_common.wgsl" with {
  type: "text",
};
import compressBackwardVec4Code from "../../../kernels/mora_compress_backward_vec4.wgsl" with {
  type: "text",
};
import compressRotateCode from "../../../kernels/mora_compress_rotate.wgsl" with { type: "text" };
import compressRotateCommonCode from "../../../kernels/mora_compress_rotate_common.wgsl" with {
  type: "text",
};
import compressRotateVec4Code from "../../../kernels/mora_compress_rotate_vec4.wgsl" with { type: "text" };
import compressRotateBackwardCode from "../../../kernels/mora_compress_rotate_backward.wgsl" with {
  type: "text",
};
import compressRotateBackwardCommonCode from "../../../kernels/mora_compress_rotate_backward_common.wgsl" with {
  type: "text",
};
import compressRotateBackwardVec4Code from "../../../kernels/mora_compress_rotate_backward_vec4.wgsl" with {
  type: "text",
};
import decompressCode from "../../../kernels/mora_decompress.wgsl" with { type: "text" };
import decompressCommonCode from "../../../kernels/mora_decompress_common.wgsl" with { type: "text" };
import decompressSourceCode from "../../../kernels/mora_decompress_source.wgsl" with { type: "text" };
import decompressVec4Code from "../../../kernels/mora_decompress_vec4.wgsl" with { type: "text" };
import decompressBackwardCode from "../../../kernels/mora_decompress_backward.wgsl" with { type: "text" };
import decompressBackwardCommonCode from "../../../kernels/mora_decompress_backward_common.wgsl" with {
  type: "text",
};
import decompressBackwardVec4Code from "../../../kernels/mora_decompress_backward_vec4.wgsl" with {
  type: "text",
};
import rowAccumulatorsCode from "../../../kernels/mora_row_accumulators.wgsl" with { type: "text" };
import rotateVec4LoadsCode from "../../../kernels/mora_rotate_vec4_loads.wgsl" with { type: "text" };
import tilingCode from "../../../kernels/mora_tiling.wgsl" with { type: "text" };
import type { KernelSource } from "../../gpu/kernel.ts";
import { type KernelTemplate, specialize } from "../../gpu/template.ts";

const tiling = { file: "kernels/mora_tiling.wgsl", code: tilingCode };

/** The shared piece `kernels/<name>.wgsl`. */
function piece(name: string, code: string): KernelTemplate {
  return { file: `kernels/${name}.wgsl`, code };
}

/** The row-looping kernel `kernels/<name>.wgsl`, after the tiling prologue and its `shared` pieces. */
function rowLooping(name: string, code: string, ...shared: KernelTemplate[]): KernelTemplate {
  return { file: `kernels/${name}.wgsl`, code, pieces: [tiling, ...shared] };
}

const contiguousGroup = piece("mora_contiguous_group", contiguousGroupCode);
const compressBackward = piece("mora_compress_backward_common", compressBackwardCommonCode);
const compressRotate = piece("mora_compress_rotate_common", compressRotateCommonCode);
const compressRotateBackward = piece(
  "mora_compress_rotate_backward_common",
  compressRotateBackwardCommonCode,
);
const decompress = piece("mora_decompress_common", decompressCommonCode);
const decompressBackward = piece("mora_decompress_backward_common", decompressBackwardCommonCode);
const rotateVec4Loads = piece("mora_rotate_vec4_loads", rotateVec4LoadsCode);
const rowAccumulators = piece("mora_row_accumulators", rowAccumulatorsCode);

const templates = {
  compress: rowLooping("mora_compress", compressCode),
  compressBackward: rowLooping(
    "mora_compress_backward",
    compressBackwardCode,
    contiguousGroup,
    compressBackward,
  ),
  compressBackwardVec4: rowLooping(
    "mora_compress_backward_vec4",
    compressBackwardVec4Code,
    contiguousGroup,
    compressBackward,
  ),
  compressRotate: rowLooping("mora_compress_rotate", compressRotateCode, compressRotate),
  compressRotateVec4: rowLooping(
    "mora_compress_rotate_vec4",
    compressRotateVec4Code,
    compressRotate,
    rotateVec4Loads,
  ),
  compressRotateBackward: rowLooping(
    "mora_compress_rotate_backward",
    compressRotateBackwardCode,
    compressRotateBackward,
    rowAccumulators,
  ),
  compressRotateBackwardVec4: rowLooping(
    "mora_compress_rotate_backward_vec4",
    compressRotateBackwardVec4Code,
    compressRotateBackward,
    rotateVec4Loads,
    rowAccumulators,
  ),
  decompress: rowLooping("mora_decompress", decompressCode, contiguousGroup, decompress),
  decompressVec4: rowLooping("mora_decompress_vec4", decompressVec4Code, contiguousGroup, decompress),
  decompressBackward: rowLooping("mora_decompress_backward", decompressBackwardCode, decompressBackward),
  decompressBackwardVec4: rowLooping(
    "mora_decompress_backward_vec4",
    decompressBackwardVec4Code,
    decompressBackward,
  ),
};

/** One of MoRA's row-looping kernels: `decompressVec4` is kernels/mora_decompress_vec4.wgsl, and so on. */
export type MoraKernel = keyof typeof templates;

// The slots of the templates that have some.
const slots: Partial<Record<MoraKernel, Record<string, string>>> = {
  decompress: { SOURCE: decompressSourceCode },
  decompressVec4: { SOURCE: decompressSourceCode },
};

/**
 * The kernel `kernel` with these `override` constants (its own, such as `KIND`, and `ROWS` of the tiling
 * prologue), built once per kernel and constants, named after both: `mora_decompress[KIND=1,ROWS=8]`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { moraKernel } from "./templates.ts";
 *
 * const kernel = moraKernel("decompress", { KIND: 1, ROWS: 8 });
 * assert.equal(kernel.name, "mora_decompress[KIND=1,ROWS=8]");
 * assert.deepEqual(kernel.constants, { KIND: 1, ROWS: 8 });
 * ```
 */
export function moraKernel(kernel: MoraKernel, constants: Readonly<Record<string, number>>): KernelSource {
  return specialize(templates[kernel], constants, (values) => ({ slots: slots[kernel], constants: values }));
}

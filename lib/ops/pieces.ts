/**
 * The shared WGSL pieces of `kernels/`, for kernel templates to list in their `pieces`
 * (lib/gpu/template.ts): each declares its workgroup memory and one function over a workgroup of `WG`
 * threads (a `const` or `override` the kernel declares, a power of two), reducing in a fixed tree order.
 *
 * @module
 */

import argmaxCode from "../../kernels/workgroup_argmax.wgsl" with { type: "text" };
import logsumexpCode from "../../kernels/workgroup_logsumexp.wgsl" with { type: "text" };
import sumCode from "../../kernels/workgroup_sum.wgsl" with { type: "text" };
import type { KernelTemplate } from "../gpu/template.ts";

/** `workgroup_sum(lid, value) -> f32`: the sum over the workgroup. */
export const workgroupSum: KernelTemplate = { file: "kernels/workgroup_sum.wgsl", code: sumCode };

/** `workgroup_argmax(lid, value, index) -> u32`: the index of the largest value, lowest on ties. */
export const workgroupArgmax: KernelTemplate = { file: "kernels/workgroup_argmax.wgsl", code: argmaxCode };

/** `workgroup_logsumexp(lid, max, sum) -> f32`: merges per-thread online-softmax pairs into the logsumexp. */
export const workgroupLogsumexp: KernelTemplate = {
  file: "kernels/workgroup_logsumexp.wgsl",
  code: logsumexpCode,
};

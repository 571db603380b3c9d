/**
 * The one size check every op launcher runs on its tensors before it builds a dispatch.
 *
 * @module
 */

import type { Tensor } from "../gpu/tensor.ts";

/**
 * Throws a RangeError naming the first tensor whose size differs from the one paired with it, the op, and
 * the shape the sizes come from, e.g. `checkSizes("rmsnorm forward", "(rows 4, dim 8)", [[x, 32]])`.
 *
 * @throws {RangeError} `Cannot run <op>: tensor "<name>" has <n> values, expected <m> for <shape>; ...`
 */
export function checkSizes(
  op: string,
  shape: string,
  expected: readonly (readonly [Tensor, number])[],
): void {
  for (const [tensor, size] of expected) {
    if (tensor.size === size) continue;
    throw new RangeError(
      `Cannot run ${op}: tensor "${tensor.name}" has ${tensor.size} values, expected ${size} for ${shape}; ` +
        `allocate it with that shape`,
    );
  }
}

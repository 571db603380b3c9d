/**
 * The format-only baseline of the UUID task: what a model scores that knows the version-4 UUID layout and
 * nothing of the pairs. Of a value's 36 characters, the 4 dashes and the version digit are fixed, the variant
 * digit is one of 4, and the other 30 are one of 16 hex digits, so its expected character accuracy is
 * (5 + 1/4 + 30/16) / 36 ≈ 19.8%. Its loss per token of `BOS key:value` is the entropy of the 60 free hex
 * digits (ln 16 each) and the 2 variant digits (ln 4 each) of key and value, over the 73 predicted tokens.
 * A run below this loss, or above this accuracy, has learned something of the pairs themselves.
 *
 * @module
 */

import type { Tokenizer } from "../data/tokenizer.ts";

/** Characters of a UUID, and the free hex digits and the variant digit among them. */
const UUID_CHARS = 36, FREE_HEX = 30;

/** Expected character accuracy of a format-only model on a value (≈ 0.198). */
export const FORMAT_ONLY_CHAR_ACCURACY = (UUID_CHARS - FREE_HEX - 1 + 1 / 4 + FREE_HEX / 16) / UUID_CHARS;

/**
 * The format-only loss per predicted token (nats) under `tokenizer`, or undefined when the tokenizer does not
 * give one token per UUID character (the count above assumes it).
 */
export function formatOnlyLoss(tokenizer: Tokenizer): number | undefined {
  if (tokenizer.encode("0123abcd-4").length !== 10) return undefined;
  const predicted = 2 * UUID_CHARS + 1; // key, ':' and value after BOS
  return (2 * (FREE_HEX * Math.log(16) + Math.log(4))) / predicted;
}

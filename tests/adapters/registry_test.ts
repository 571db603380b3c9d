import assert from "node:assert/strict";
import { ADAPTER_METHODS, adapterMethod } from "../../lib/adapters/registry.ts";

Deno.test("the registry keys every method by its own name, in the user-facing order", () => {
  // These names are user-facing (CLI --method, journal ids, report labels, PEFT files): never rename them.
  assert.deepEqual(Object.keys(ADAPTER_METHODS), [
    "fft",
    "lora",
    "lora+",
    "asylora",
    "relora",
    "dora",
    "mora",
    "remora",
  ]);
  for (const [key, method] of Object.entries(ADAPTER_METHODS)) assert.equal(method.name, key);
});

Deno.test("an unknown method name is refused with the list of valid names", () => {
  assert.throws(
    () => adapterMethod("loraplus"),
    /Unknown adapter method "loraplus": expected one of fft, lora, lora\+/,
  );
});

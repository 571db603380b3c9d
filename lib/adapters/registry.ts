/**
 * Every adapter method by name, and {@link applyAdapters}, which wraps a model's targeted linear layers.
 * Adding a method: its file, its entry in the list of {@link ADAPTER_METHODS}, its tests.
 *
 * Names: each method file exports one {@link AdapterMethod} whose `name` is the user-facing key (CLI
 * `--method`, journal ids, report labels, PEFT files), and the registry is keyed by those `name`s. The
 * exported identifier is that name as written: `lora`, `asylora`, `relora`, `dora`, `mora`, `remora`, `fft`;
 * the one exception is `loraPlus` for `"lora+"`, because `+` cannot appear in an identifier.
 *
 * @module
 */

import { type LlamaModel, PROJECTIONS } from "../model/llama.ts";
import { DenseLinear } from "../model/linear.ts";
import { checkDropoutRate } from "../ops/dropout.ts";
import { asylora } from "./asylora.ts";
import { dora } from "./dora.ts";
import { fft } from "./fft.ts";
import { lora } from "./lora.ts";
import { loraPlus } from "./lora_plus.ts";
import { mora, remora } from "./mora.ts";
import { relora } from "./relora.ts";
import { type AdapterConfig, type AdapterLayer, type AdapterMethod, isTargeted } from "./types.ts";

/**
 * Every registered method keyed by its `name`, in the order help texts and suites list them: full
 * fine-tuning, the LoRA family, then MoRA and ReMoRA.
 */
export const ADAPTER_METHODS: Readonly<Record<string, AdapterMethod>> = Object.fromEntries(
  [fft, lora, loraPlus, asylora, relora, dora, mora, remora].map((method) => [method.name, method]),
);

/** PEFT's names of the seven LLaMA projections: every linear layer except `lm_head` (MoRA's setup). */
export const ALL_LINEAR_TARGETS: string[] = [...PROJECTIONS];

/** The method of a config, with a clear error listing the valid names. */
export function adapterMethod(name: string): AdapterMethod {
  const method = ADAPTER_METHODS[name];
  if (!method) {
    throw new RangeError(
      `Unknown adapter method "${name}": expected one of ${Object.keys(ADAPTER_METHODS).join(", ")}`,
    );
  }
  return method;
}

/**
 * Wraps every targeted linear layer of `model` (frozen base) in the configured adapter. `lm_head` is never
 * adapted. Returns the adapters by module path.
 *
 * @throws {RangeError} for an unknown method, a bad config (dropout outside [0, 1), or dropout > 0 for a method
 * that does not apply it), or targets that match no layer.
 */
export async function applyAdapters(
  model: LlamaModel,
  config: AdapterConfig,
): Promise<Map<string, AdapterLayer>> {
  const method = adapterMethod(config.method);
  const wrap = method.wrap;
  if (!wrap) {
    throw new RangeError(
      `Cannot apply "${method.name}" as an adapter: it trains the base weights themselves`,
    );
  }
  method.validate(config);
  checkDropoutRate(config.dropout ?? 0, "lora_dropout");
  if ((config.dropout ?? 0) > 0 && !method.appliesDropout) {
    throw new RangeError(
      `Cannot use lora_dropout ${config.dropout} with ${method.name}: it does not apply input dropout yet; ` +
        `set the dropout to 0`,
    );
  }
  const adapters = new Map<string, AdapterLayer>();
  for (const [path, layer] of model.linears) {
    if (path === "lm_head" || !isTargeted(path, config.targetModules)) continue;
    if (!(layer instanceof DenseLinear)) throw new RangeError(`Cannot adapt "${path}" twice`);
    if (model.grads.has(`${path}.weight`)) {
      throw new RangeError(
        `Cannot adapt "${path}": its base weight trains; build the model with trainBase false`,
      );
    }
    const adapter = await wrap(model.gpu, layer, config, model.scratch, model.dropoutStep);
    model.setLinear(path, adapter);
    adapters.set(path, adapter);
  }
  if (adapters.size === 0) {
    throw new RangeError(
      `No linear layer matches target_modules [${config.targetModules.join(", ")}]; ` +
        `expected names such as ${ALL_LINEAR_TARGETS.join(", ")}`,
    );
  }
  return adapters;
}

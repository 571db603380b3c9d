/**
 * Where a training step's time goes: builds one method's step on a model preset (the training suite's reference
 * config by default),
 * times each of its dispatches alone (R repetitions in one command buffer, one wait, best of three), and prints
 * the kernels by total time, with their dispatch counts. The sum is the step's GPU time without the queue
 * waits; compare it with the training suite's ms/step to see the dispatch and wait overhead.
 *
 * Usage: see {@link USAGE} (`--help` prints it).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { methodLabel, type MethodSpec, resolveMethod, setupMethod } from "../lib/experiment/setup.ts";
import { requestGpu } from "../lib/gpu/device.ts";
import type { Dispatch } from "../lib/gpu/kernel.ts";
import { dispatchRepeater, measure } from "../lib/harness/timing.ts";
import { initLlamaWeights } from "../lib/model/init.ts";
import { modelPreset } from "../lib/model/presets.ts";
import { Trainer } from "../lib/train/trainer.ts";

/** The command line, printed by `--help`. */
const USAGE =
  `Usage: deno run -A benchmarks/step_profile.ts --method lora --rank 8 [--variant rotation] [--top 20]
       [--model medium --batch 4 --seq 128]

Times each dispatch of one method's training step alone (a dispatch's time repeated in one command buffer, best
of three) and prints the kernels by total time with their dispatch counts. Tiny dispatches timed alone look
slower than they run in sequence.`;

/** Total time and count of the dispatches of one kernel. */
interface KernelTotal {
  label: string;
  count: number;
  ms: number;
}

/** Times each dispatch alone and sums the times per kernel label, largest first. */
async function profile(gpu: Awaited<ReturnType<typeof requestGpu>>, dispatches: readonly Dispatch[]) {
  const totals = new Map<string, KernelTotal>();
  for (const dispatch of dispatches) {
    const timing = await measure(dispatchRepeater(gpu, [dispatch]), { targetMs: 20, trials: 3 });
    const total = totals.get(dispatch.label) ?? { label: dispatch.label, count: 0, ms: 0 };
    total.count++;
    total.ms += timing.bestMs;
    totals.set(dispatch.label, total);
  }
  return [...totals.values()].sort((a, b) => b.ms - a.ms);
}

async function main() {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      method: { type: "string", default: "lora" },
      rank: { type: "string" },
      variant: { type: "string" },
      top: { type: "string", default: "20" },
      batch: { type: "string", default: "8" },
      seq: { type: "string", default: "64" },
      model: { type: "string", default: "reference" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const spec: MethodSpec = {
    method: values.method,
    rank: values.rank === undefined ? null : Number(values.rank),
    ...values.variant ? { variant: values.variant } : {},
  };
  const gpu = await requestGpu();
  const config = modelPreset(values.model);
  const resolved = resolveMethod(spec, { seed: 0, totalSteps: 1 << 30 });
  const run = await setupMethod(gpu, { config, weights: initLlamaWeights(config, 0) }, resolved);
  const batch = Number(values.batch), seqLen = Number(values.seq);
  const trainer = await Trainer.create(run.model, {
    batch,
    seqLen,
    lr: 1e-4,
    schedule: { kind: "constant", warmupSteps: 0, totalSteps: 1 << 30 },
    adamw: { groups: run.groups },
  });
  const ids = Uint32Array.from({ length: batch * seqLen }, (_, i) => (i * 7919) % config.vocabSize);
  await trainer.trainStep(ids, Int32Array.from(ids), true);
  const dispatches = [...trainer.plan.forward, ...trainer.plan.backward, ...await trainer.optimizer.build()];
  const totals = await profile(gpu, dispatches);
  const sum = totals.reduce((s, t) => s + t.ms, 0);
  console.log(`${methodLabel(spec)}: ${dispatches.length} dispatches, ${sum.toFixed(1)} ms summed`);
  for (const t of totals.slice(0, Number(values.top))) {
    console.log(`${t.ms.toFixed(2).padStart(8)} ms  ${String(t.count).padStart(4)}×  ${t.label}`);
  }
  trainer.destroy();
  run.destroy();
}

if (import.meta.main) await main();

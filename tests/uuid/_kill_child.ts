// Runs the tiny UUID suite in a child process so a test can kill it with SIGKILL mid-run.
import { makeUuidSuite } from "../../benchmarks/uuid.ts";
import { requestGpu } from "../../lib/gpu/device.ts";
import { recordEnvironment } from "../../lib/harness/env.ts";
import { tinyBench } from "./_tiny.ts";

const outDir = Deno.args[0]!;
const gpu = await requestGpu();
const environment = await recordEnvironment(gpu.adapter);
const suite = makeUuidSuite({ ...await tinyBench(outDir), methods: ["fft", "lora", "mora"] });
await suite.run({ gpu, environment, timing: {}, quick: true, progress: (line) => console.log(line) });

import assert from "node:assert/strict";
import { benchConfig, type StepConfig, stepConfigs } from "../../benchmarks/training.ts";
import { TORCH_PEER_COMMAND } from "../../benchmarks/torch_peer.ts";
import { recordEnvironment } from "../../lib/harness/env.ts";
import { initLlamaWeights } from "../../lib/model/init.ts";
import { modelPreset } from "../../lib/model/presets.ts";
import { gpuTest, testGpu } from "../_gpu.ts";
import { PROTOCOL_PEER } from "./_fake_peer.ts";

/** A small config of the reference model whose peer is `peer`. */
function tinyConfig(peer: string[], cases: StepConfig["cases"]): StepConfig {
  const config = modelPreset("reference");
  return {
    name: "tiny",
    load: () => Promise.resolve({ config, weights: initLlamaWeights(config, 0) }),
    batch: 2,
    seqLen: 16,
    cases,
    rounds: 2,
    targetMs: 0,
    minSteps: 2,
    peer,
  };
}

async function benchContext() {
  const gpu = await testGpu();
  return { gpu, environment: await recordEnvironment(gpu.adapter), timing: {}, quick: true, progress() {} };
}

Deno.test("only the full bench's medium config asks for the PyTorch peer", () => {
  assert.deepEqual(stepConfigs({}, false).map((c) => c.peer), [undefined, TORCH_PEER_COMMAND]);
  assert.deepEqual(stepConfigs({}, true).map((c) => c.peer), [undefined]);
  assert.deepEqual(stepConfigs({ preset: "paper", base: "/nowhere" }, false).map((c) => c.peer), [undefined]);
});

Deno.test({
  name: "a config with a peer times the peer's cases in the same rounds as ours and marks their records",
  ...gpuTest,
  async fn() {
    const cases = [{ method: "fft", rank: null }, { method: "lora", rank: 8 }, { method: "mora", rank: 8 }];
    const records = await benchConfig(await benchContext(), tinyConfig(PROTOCOL_PEER, cases));
    const ours = records.filter((r) => r.framework === undefined);
    const peers = records.filter((r) => r.framework === "pytorch-cpu");
    assert.deepEqual(ours.map((r) => r.method), ["fft", "lora", "mora"]);
    assert.deepEqual(peers.map((r) => [r.method, r.rank, r.trainableParams]), [
      ["fft", null, 102],
      ["lora", 8, 202],
      ["mora", 8, 302],
    ]);
    // The peer was sent the variant and alpha ours resolved (the fake echoes its cases in place of its BLAS).
    assert.match(peers[0]!.frameworkBuild!, /"method":"lora","rank":8,"alpha":16\}/);
    assert.match(peers[0]!.frameworkBuild!, /"method":"mora","rank":8,"variant":"rotation"/);
    for (const r of records) assert.equal(r.timing.trialsMs.length, 2, "one trial per interleaved round");
    for (const r of peers) {
      assert.ok(r.timing.trialsMs.every((ms) => ms >= 10 && ms < 30), `${r.method}: the peer's 10 ms only`);
    }
    assert.ok(ours.every((r) => r.peerSkipped === undefined && r.peakBytes > 0));
  },
});

Deno.test({
  name: "a config whose peer cannot start records why on our records, and times ours alone",
  ...gpuTest,
  async fn() {
    const cfg = tinyConfig(["/nonexistent/python3"], [{ method: "lora", rank: 8 }]);
    const records = await benchConfig(await benchContext(), cfg);
    assert.equal(records.length, 1);
    assert.equal(records[0]!.framework, undefined);
    assert.match(records[0]!.peerSkipped ?? "", /^cannot start "\/nonexistent\/python3": /);
  },
});

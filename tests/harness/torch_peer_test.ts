import assert from "node:assert/strict";
import { startTorchPeer, type TorchPeer, type TorchPeerSetup } from "../../benchmarks/torch_peer.ts";
import { measureInterleaved } from "../../lib/harness/timing.ts";
import { modelPreset } from "../../lib/model/presets.ts";
import { fakePeer, PROTOCOL_PEER } from "./_fake_peer.ts";

const SETUP: TorchPeerSetup = {
  model: modelPreset("reference"),
  batch: 2,
  seqLen: 16,
  lr: 1e-4,
  threads: 2,
  cases: [{ method: "fft", rank: null }, { method: "lora", rank: 8 }],
};

async function started(command: string[], replyTimeoutMs?: number): Promise<TorchPeer> {
  const start = await startTorchPeer(SETUP, { command, replyTimeoutMs });
  assert.ok("peer" in start, `no peer: ${"skipped" in start ? start.skipped : ""}`);
  return start.peer;
}

Deno.test("the peer sets up the cases it is sent; its works time its own ms, the round trip's overhead left out", async () => {
  const peer = await started(PROTOCOL_PEER);
  try {
    assert.equal(peer.build, `torch fake, BLAS ${JSON.stringify(SETUP.cases)}, 2 threads`);
    assert.deepEqual(peer.trainableParams, [102, 202]);
    const timings = await measureInterleaved(peer.works, { rounds: 3, targetMs: 0 });
    for (const timing of timings) {
      assert.equal(timing.trialsMs.length, 3);
      // Each round trip takes ≥ 40 ms; the peer says 10 ms per repetition, and only that counts.
      for (const ms of timing.trialsMs) assert.ok(ms >= 10 && ms < 30, `trial ${ms} ms`);
    }
    assert.equal(peer.failure(), undefined);
  } finally {
    await peer.close();
  }
});

Deno.test("an absent peer is a reason, not an error: a missing command, no torch, a failed setup, no reply", async () => {
  const skipped = async (command: string[], replyTimeoutMs?: number) => {
    const start = await startTorchPeer(SETUP, { command, replyTimeoutMs });
    assert.ok("skipped" in start, "a peer started");
    return start.skipped;
  };
  assert.match(await skipped(["/nonexistent/python3"]), /^cannot start "\/nonexistent\/python3": /);
  const noTorch = fakePeer("", `{ unavailable: "python3 cannot import torch (fake)" }`);
  assert.equal(await skipped(noTorch), "python3 cannot import torch (fake)");
  assert.match(await skipped(fakePeer(`return { error: "ValueError: boom" };`)), /failed: ValueError: boom$/);
  assert.match(await skipped(fakePeer(`return { ready: { cases: [] } };`)), /set up 0 cases, expected 2/);
  assert.match(await skipped(fakePeer("return undefined;"), 300), /did not reply within 0\.3 s$/);
  assert.match(await skipped(fakePeer(`return "exit";`)), /exited without a reply/);
});

Deno.test("a peer that dies while timed is a failure, and its later works return at once without a request", async () => {
  const peer = await started(fakePeer(`
    if (m.setup) return { ready: { cases: m.setup.cases.map(() => ({ trainableParams: 1 })), blas: "x", threads: 1 } };
    return "exit";
  `));
  try {
    assert.equal(await peer.works[0]!(3), 0);
    assert.match(peer.failure() ?? "", /exited without a reply/);
    const before = performance.now();
    assert.equal(await peer.works[1]!(3), 0);
    assert.ok(performance.now() - before < 50, "no request after the failure");
  } finally {
    await peer.close();
  }
});

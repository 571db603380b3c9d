/** Fake PyTorch peers for the tests: `deno eval` children that speak the peer's protocol, no Python. */

/**
 * A fake peer: says `hello`, then answers each line with `reply(message)`; a reply of undefined sends
 * nothing, `"exit"` exits; `quit` always exits.
 */
export function fakePeer(reply: string, hello = `{ hello: { torch: "fake" } }`): string[] {
  const script = `
    const send = (o) => console.log(JSON.stringify(o));
    const reply = async (m) => { ${reply} };
    send(${hello});
    let buffer = "";
    for await (const text of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
      buffer += text;
      for (let i = buffer.indexOf("\\n"); i >= 0; i = buffer.indexOf("\\n")) {
        const m = JSON.parse(buffer.slice(0, i));
        buffer = buffer.slice(i + 1);
        if (m.quit) Deno.exit(0);
        const answer = await reply(m);
        if (answer === "exit") Deno.exit(3);
        if (answer !== undefined) send(answer);
      }
    }`;
  return [Deno.execPath(), "eval", script];
}

/**
 * A peer that sets up the cases (trainable values 100·(case + 1) + batch; the cases it was sent, as JSON, in
 * place of its BLAS) and takes 40 ms per run, but reports 10·R ms.
 */
export const PROTOCOL_PEER: string[] = fakePeer(`
  if (m.setup) {
    const cases = m.setup.cases.map((_, k) => ({ trainableParams: 100 * (k + 1) + m.setup.batch }));
    return { ready: { cases, blas: JSON.stringify(m.setup.cases), threads: m.setup.threads } };
  }
  await new Promise((resolve) => setTimeout(resolve, 40));
  return { ms: 10 * m.repetitions };
`);

/**
 * The optional PyTorch-CPU peer of the training-step suite: starts `benchmarks/torch_peer.py` (the same step in
 * PyTorch), sets up its method cases and gives one {@link RepeatedWork} per case, so that its steps are timed in
 * the same interleaved rounds as ours (`measureInterleaved`). Each work returns the round trip's overhead (the
 * round trip minus the peer's own elapsed ms) as excluded time, so a trial counts the peer's steps alone.
 *
 * Optional: when `python3` is missing, may not be run (`--allow-run`), cannot import torch, or fails, the start
 * resolves to the reason and the bench records it; nothing here throws for an absent peer.
 *
 * @module
 */

import type { RepeatedWork } from "../lib/harness/timing.ts";
import type { LlamaConfig } from "../lib/model/config.ts";

/** The command that starts the peer: `python3` from PATH (the one that imports torch decides). */
export const TORCH_PEER_COMMAND: readonly string[] = [
  "python3",
  new URL("./torch_peer.py", import.meta.url).pathname,
];

/** Longest wait for any one reply of the peer, ms (a round of medium-config steps takes seconds). */
const DEFAULT_REPLY_TIMEOUT_MS = 600_000;

/** One case of the peer: a method at a rank, with the variant (MoRA) and alpha (LoRA) ours resolved. */
export interface PeerCase {
  /** `fft`, `lora` or `mora` (the peer has no other method). */
  method: string;
  /** Rank r; null for full fine-tuning. */
  rank: number | null;
  /** MoRA's variant: `rotation` or `sharing`. */
  variant?: string;
  /** LoRA's scale numerator (s = alpha / r). */
  alpha?: number;
}

/** What the peer builds: the model's shape, the batch, the learning rate, its threads and its cases. */
export interface TorchPeerSetup {
  /** The model's shape (random weights of the peer's own init). */
  model: LlamaConfig;
  /** Sequences per step. */
  batch: number;
  /** Tokens per sequence. */
  seqLen: number;
  /** AdamW's learning rate. */
  lr: number;
  /** `torch.set_num_threads`. */
  threads: number;
  /** One method case per work, in order (full fine-tuning, LoRA, MoRA rotation or sharing). */
  cases: readonly PeerCase[];
}

/** Options of {@link startTorchPeer}. */
export interface TorchPeerOptions {
  /** Program and arguments that start a peer; {@link TORCH_PEER_COMMAND} by default (tests pass a fake). */
  command?: readonly string[];
  /** Longest wait for one reply, ms; the peer is then stopped and counted as failed. */
  replyTimeoutMs?: number;
}

/** A started peer with its cases set up. */
export interface TorchPeer {
  /**
   * What the peer runs on, with the BLAS library it loaded, e.g.
   * `torch 1.13.1, BLAS blas/libblas.so.3.11.0, 2 threads`.
   */
  build: string;
  /** Trainable values of each case, as the peer counts them. */
  trainableParams: number[];
  /** One work per case: R steps of it in the peer, resolving to the round trip's overhead in ms. */
  works: RepeatedWork[];
  /** Why a work failed (its timings and every later one are then void), or undefined. */
  failure(): string | undefined;
  /** Asks the peer to quit and waits for it (kills it if it does not). */
  close(): Promise<void>;
}

/** A started peer, or why there is none. */
export type TorchPeerStart = { peer: TorchPeer } | { skipped: string };

/** One JSON object per line to and from a child process, each reply awaited with a timeout. */
class LineChannel {
  readonly #lines: AsyncIterator<string>;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #stderr: Promise<string>;

  constructor(readonly child: Deno.ChildProcess, readonly name: string, readonly timeoutMs: number) {
    this.#lines = linesOf(child.stdout);
    this.#writer = child.stdin.getWriter();
    this.#stderr = new Response(child.stderr).text().catch(() => "");
  }

  /** Sends one message and returns the reply. */
  async request(message: unknown): Promise<Record<string, unknown>> {
    await this.#writer.write(new TextEncoder().encode(`${JSON.stringify(message)}\n`));
    return await this.receive();
  }

  /** The next line as an object; throws for an `error` reply, no reply in time, or the peer's exit. */
  async receive(): Promise<Record<string, unknown>> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${this.name} did not reply within ${this.timeoutMs / 1000} s`)),
        this.timeoutMs,
      );
    });
    try {
      const next = await Promise.race([this.#lines.next(), timeout]);
      if (next.done) throw new Error(`${this.name} exited without a reply${await this.#stderrTail()}`);
      const reply = JSON.parse(next.value) as Record<string, unknown>;
      if (typeof reply.error === "string") throw new Error(`${this.name} failed: ${reply.error}`);
      return reply;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends `quit`, closes stdin and waits for the exit; kills the child when it does not exit in time. */
  async close(): Promise<void> {
    try {
      await this.#writer.write(new TextEncoder().encode(`${JSON.stringify({ quit: true })}\n`));
      await this.#writer.close();
    } catch {
      // The child is gone already; its status below says how it ended.
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const exited = await Promise.race([
      this.child.status.then(() => true),
      new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(false), 5000)),
    ]);
    clearTimeout(timer);
    if (!exited) this.child.kill("SIGKILL");
    await this.child.status;
    await this.#stderr;
    await this.#lines.return?.();
  }

  async #stderrTail(): Promise<string> {
    const text = (await this.#stderr).trim();
    return text ? `: ${text.slice(-500)}` : "";
  }
}

/** The lines of a byte stream, without their newlines. */
async function* linesOf(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let buffer = "";
  for await (const text of stream.pipeThrough(new TextDecoderStream())) {
    buffer += text;
    for (let newline = buffer.indexOf("\n"); newline >= 0; newline = buffer.indexOf("\n")) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      if (line.trim()) yield line;
    }
  }
  if (buffer.trim()) yield buffer;
}

/** Spawns the peer with piped streams, or returns why it cannot be started. */
function spawn(command: readonly string[]): Deno.ChildProcess | string {
  const [program, ...args] = command as [string, ...string[]];
  try {
    return new Deno.Command(program, { args, stdin: "piped", stdout: "piped", stderr: "piped" }).spawn();
  } catch (error) {
    return `cannot start "${program}": ${(error as Error).message}`;
  }
}

/** The peer's `ready` reply: its cases' trainable values and what its torch runs on. */
interface ReadyReply {
  cases: { trainableParams: number }[];
  blas: string;
  threads: number;
}

/**
 * Starts the peer and sets up `setup.cases` in it (each built and stepped once), or resolves to the reason there
 * is no peer: the command missing or not allowed, torch not importable, a failed setup, no reply in time.
 */
export async function startTorchPeer(
  setup: TorchPeerSetup,
  options: TorchPeerOptions = {},
): Promise<TorchPeerStart> {
  const command = options.command ?? TORCH_PEER_COMMAND;
  const child = spawn(command);
  if (typeof child === "string") return { skipped: child };
  const channel = new LineChannel(
    child,
    `The PyTorch peer (${command[0]})`,
    options.replyTimeoutMs ?? DEFAULT_REPLY_TIMEOUT_MS,
  );
  try {
    const first = await channel.receive();
    if (typeof first.unavailable === "string") {
      await channel.close();
      return { skipped: first.unavailable };
    }
    const torch = (first.hello as { torch?: string } | undefined)?.torch;
    const ready = (await channel.request({ setup })).ready as ReadyReply | undefined;
    if (ready?.cases?.length !== setup.cases.length) {
      throw new Error(
        `The PyTorch peer set up ${ready?.cases?.length} cases, expected ${setup.cases.length}`,
      );
    }
    const build = `torch ${torch}, BLAS ${ready.blas}, ${ready.threads} threads`;
    return { peer: peerOf(channel, build, ready.cases.map((c) => c.trainableParams)) };
  } catch (error) {
    await channel.close();
    return { skipped: (error as Error).message };
  }
}

/** The works of a set-up peer; a failed one voids the peer's timings and makes every later call return at once. */
function peerOf(channel: LineChannel, build: string, trainableParams: number[]): TorchPeer {
  let failure: string | undefined;
  const work = (run: number): RepeatedWork => async (repetitions) => {
    if (failure) return 0;
    const start = performance.now();
    try {
      const reply = await channel.request({ run, repetitions });
      if (typeof reply.ms !== "number") throw new Error(`The PyTorch peer replied ${JSON.stringify(reply)}`);
      return Math.max(0, performance.now() - start - reply.ms);
    } catch (error) {
      failure = (error as Error).message;
      return 0;
    }
  };
  return {
    build,
    trainableParams,
    works: trainableParams.map((_, run) => work(run)),
    failure: () => failure,
    close: () => channel.close(),
  };
}

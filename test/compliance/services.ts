/**
 * The services the compliance suite calls. They are registered by the "peer" of a fixture —
 * in this process for the memory transport, in a child process for the others — so every
 * behaviour is exercised across the transport under test, in both directions.
 */
import { readFile } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { Socket } from "node:net";
import { createHash } from "node:crypto";
import { ByteStream, Channel, FileDescriptor, type HubClient, type Registration } from "../../index.js";

class Nope extends Error {
  code = "ENOPE";
  details = { hint: "try again later" };
  constructor(message: string) {
    super(message);
    this.name = "Nope";
  }
}

/** What `hang` saw, for tests that check the handler's signal. */
const hangs = new Map<string, { aborted: boolean; reason: string | undefined }>();
/** What `stream.keep` read of each stream, by id: `{bytes, sha256}`, or `{failed: code}`. */
const kept = new Map<string, { bytes: number; sha256: string } | { failed: string }>();
/** Worker channels that joined `pool.join`. */
const workers: Channel[] = [];

export async function registerFixtureServices(peer: HubClient, prefix = "fx"): Promise<Registration[]> {
  const name = (suffix: string): string => `${prefix}.${suffix}`;
  const registrations: Registration[] = [];
  const add = async (suffix: string, handler: (data: never, context: never) => unknown): Promise<void> => {
    registrations.push(
      await peer.register(name(suffix), handler as (data: unknown) => unknown, {
        labels: { role: "fixture" },
      }),
    );
  };

  await add("echo", (data: unknown) => data);
  await add("fail", (data: { message: string }) => {
    throw new Nope(data.message);
  });
  await add("whoami", (_data: unknown, context: { caller: unknown; service: unknown }) => ({
    caller: context.caller,
    service: context.service,
  }));
  await add("sleep", async (data: { ms: number }) => {
    await new Promise((resolve) => setTimeout(resolve, data.ms));
    return data.ms;
  });
  await add("hang", (data: { id: string }, context: { signal: AbortSignal }) => {
    const status = { aborted: false, reason: undefined as string | undefined };
    hangs.set(data.id, status);
    return new Promise((_resolve, reject) => {
      context.signal.addEventListener("abort", () => {
        status.aborted = true;
        status.reason = (context.signal.reason as Error | undefined)?.name;
        reject(context.signal.reason as Error);
      });
    });
  });
  await add("hang.status", (data: { id: string }) => hangs.get(data.id) ?? null);

  // ---- channels ----------------------------------------------------------------------------
  /** Asks the caller a question on the channel it passed: a request in the reverse direction. */
  await add("ask", async (data: { channel: Channel; question: string }) => {
    const answer = await data.channel.request({ question: data.question }, { timeout: 5000 });
    return { answer };
  });
  /** Sends `count` events to the caller, then closes the channel. */
  await add("events", async (data: { channel: Channel; count: number }) => {
    for (let i = 0; i < data.count; i++) await data.channel.send({ seq: i });
    data.channel.close();
    return "sent";
  });
  /** Collects the caller's events until the caller closes the channel. */
  await add("collect", async (data: { channel: Channel }) => {
    const seen: unknown[] = [];
    for await (const message of data.channel) seen.push(message.data);
    return seen;
  });
  /**
   * Nesting: receives a channel, sends a request on it carrying a *new* channel, and serves
   * requests on that new channel itself — the caller continues the recursion to `depth`.
   */
  await add("nest", async (data: { channel: Channel; depth: number }) => {
    const reply = await nestLevel(data.channel, 1, data.depth);
    return reply;
  });
  /** The self-registering worker pattern: workers join with a channel; jobs go to them. */
  await add("pool.join", (data: { jobs: Channel }) => {
    workers.push(data.jobs);
    data.jobs.closed.then(() => workers.splice(workers.indexOf(data.jobs), 1)).catch(() => undefined);
    return { workers: workers.length };
  });
  await add("pool.run", async (data: unknown) => {
    const worker = workers.shift();
    if (worker === undefined) throw new Error("no worker joined");
    workers.push(worker);
    return worker.request(data, { timeout: 5000 });
  });

  // ---- byte streams ------------------------------------------------------------------------
  /** Echoes every byte back until the caller half-closes. */
  await add("stream.echo", (data: { stream: ByteStream }) => {
    data.stream.readable.pipeTo(data.stream.writable).catch(() => undefined);
    return "echoing";
  });
  /** Reads to the end and returns the byte count and sha256. */
  await add("stream.digest", async (data: { stream: ByteStream }) => {
    const hash = createHash("sha256");
    let bytes = 0;
    for await (const chunk of data.stream.readable) {
      hash.update(chunk);
      bytes += chunk.byteLength;
    }
    await data.stream.writable.close();
    return { bytes, sha256: hash.digest("hex") };
  });
  /**
   * Reads to the end in the background, slowly (waiting `pauseMs` after each 64 KiB, so the
   * caller's last bytes are still on their way when it closes), and keeps the byte count and
   * sha256 under `id` for `stream.kept`; answers at once.
   */
  await add("stream.keep", (data: { id: string; stream: ByteStream; pauseMs: number }) => {
    void (async () => {
      const hash = createHash("sha256");
      let bytes = 0;
      try {
        for await (const chunk of data.stream.readable) {
          hash.update(chunk);
          const before = bytes;
          bytes += chunk.byteLength;
          if (bytes >> 16 !== before >> 16) await new Promise((resolve) => setTimeout(resolve, data.pauseMs));
        }
        kept.set(data.id, { bytes, sha256: hash.digest("hex") });
      } catch (error) {
        kept.set(data.id, { failed: (error as { code?: string }).code ?? String(error) });
      }
    })();
    return "keeping";
  });
  await add("stream.kept", (data: { id: string }) => kept.get(data.id) ?? null);
  /**
   * Writes `total` bytes as fast as the stream lets it, and reports to `progress` how much was
   * written: the test reads slowly and checks the writer was held back.
   */
  await add(
    "stream.produce",
    (data: { stream: ByteStream; total: number; chunk: number; progress: Channel }) => {
      void (async () => {
        const writer = data.stream.writable.getWriter();
        let written = 0;
        const block = new Uint8Array(data.chunk).fill(7);
        while (written < data.total) {
          await writer.write(block.slice());
          written += block.byteLength;
          data.progress.send(written).catch(() => undefined);
        }
        await writer.close();
      })().catch(() => undefined);
      return "producing";
    },
  );
  /** Reads one chunk, then resets the stream. */
  await add("stream.reset", async (data: { stream: ByteStream }) => {
    const reader = data.stream.readable.getReader();
    await reader.read();
    reader.releaseLock();
    data.stream.reset(new Error("enough"));
    return "reset";
  });

  // ---- descriptors -------------------------------------------------------------------------
  /** Reads the whole file behind a descriptor and returns it as text. */
  await add("fd.read", async (data: { file: FileDescriptor }) => {
    const value = data.file.take();
    if (typeof value === "number") {
      const { readFileSync, closeSync } = await import("node:fs");
      try {
        return { kind: data.file.kind, text: readFileSync(value, "utf8") };
      } finally {
        closeSync(value);
      }
    }
    const handle = value as FileHandle;
    try {
      return { kind: data.file.kind, text: await readFile(handle, "utf8") };
    } finally {
      await handle.close();
    }
  });
  /** Takes a connected socket and answers its remote end directly, then closes it. */
  await add("fd.greet", (data: { socket: FileDescriptor; text: string }) => {
    const socket = data.socket.take() as Socket;
    if (!(socket instanceof Socket)) throw new Error(`expected a socket, got ${data.socket.kind}`);
    socket.end(data.text);
    return data.socket.kind;
  });

  return registrations;
}

async function nestLevel(channel: Channel, level: number, depth: number): Promise<number[]> {
  if (level >= depth) {
    return (await channel.request({ level, last: true }, { timeout: 5000 })) as number[];
  }
  const [mine, theirs] = Channel.pair();
  // The next level: the caller will request on `theirs`; we answer on `mine`.
  mine.handle(async (inner: unknown) => {
    const { channel: next } = inner as { channel: Channel };
    const rest = await nestLevel(next, level + 2, depth);
    return [level + 1, ...rest];
  });
  const reply = (await channel.request({ level, channel: theirs }, { timeout: 5000 })) as number[];
  return [level, ...reply];
}

export { ByteStream, Channel, FileDescriptor };

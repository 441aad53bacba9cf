/**
 * The close-delivers tests' two programs, written once for every transport: a hub's "sink"
 * service (reads a stream to its end and says what it got) and a short-lived command that
 * streams into it, closes its session and exits at once (test/unix/fixtures and
 * test/http2/fixtures start them over their transport).
 */
import { createHash } from "node:crypto";
import { once } from "node:events";
import { ByteStream, type HubClient } from "../../index.js";

const say = (line: string): void => void process.stdout.write(`${line}\n`);

/** The 64 KiB chunk the command writes over and over. */
function patternChunk(): Buffer {
  const chunk = Buffer.alloc(64 * 1024);
  for (let i = 0; i < chunk.length; i++) chunk[i] = i % 251;
  return chunk;
}

/** The SHA-256 of the `size` bytes {@link streamThenClose} writes. */
export function patternHash(size: number): string {
  const chunk = patternChunk();
  const hash = createHash("sha256");
  for (let sent = 0; sent < size; sent += chunk.length) {
    hash.update(chunk.subarray(0, Math.min(chunk.length, size - sent)));
  }
  return hash.digest("hex");
}

/**
 * Serves "sink" on `hub`: answers at once, then reads the `stream` it was given to its end in
 * the background and prints `got <bytes> <sha256>` at its END or `failed <code> after <bytes>`.
 */
export async function registerSink(hub: HubClient): Promise<void> {
  await hub.register("sink", ({ stream }: { stream: ByteStream }) => {
    void (async () => {
      const hash = createHash("sha256");
      let bytes = 0;
      try {
        for await (const chunk of stream.readable) {
          hash.update(chunk);
          bytes += chunk.byteLength;
        }
        say(`got ${bytes} ${hash.digest("hex")}`);
      } catch (error) {
        say(`failed ${(error as { code?: string }).code ?? String(error)} after ${bytes}`);
      }
    })();
    return "reading";
  });
}

/**
 * Calls the hub's "sink" with a stream, prints "called", waits for a line on stdin, then writes
 * `size` bytes of a fixed pattern, ends the stream, prints "closing", awaits `hub.close()`,
 * prints "closed" and ends the process at once with `process.exit` — whatever `close()` had not
 * delivered by then is lost.
 */
export async function streamThenClose(hub: HubClient, size: number): Promise<never> {
  const [mine, theirs] = ByteStream.pair();
  await hub.call("sink", { stream: theirs });
  say("called");
  process.stdin.resume();
  await once(process.stdin, "data");
  const writer = mine.writable.getWriter();
  const chunk = patternChunk();
  for (let sent = 0; sent < size; sent += chunk.length) {
    await writer.write(chunk.subarray(0, Math.min(chunk.length, size - sent)));
  }
  await writer.close();
  say("closing");
  await hub.close();
  say("closed");
  process.exit(0);
}

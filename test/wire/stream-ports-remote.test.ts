// Byte streams driven through their ports (ByteStream.openPort, public since issue 19) across a
// real Unix session: the client's end of a pair and the service's wire end are both raw, so a
// stream open makes no web stream anywhere, and the credit window still holds a fast writer to
// a paused reader's pace without losing or reordering a byte.
import { describe, expect, it } from "vitest";
import { ByteStream, type ByteStreamPort, type ByteStreamSink, StreamResetError } from "../../index.js";
import { withUnixHub } from "../helpers/unix-hub.js";
import { countWebStreams } from "../helpers/web-stream-count.js";

/** The web streams made while each test runs. */
const made = countWebStreams();

/** The echo of the port's TSDoc: what arrives goes back, with backpressure both ways. */
class EchoSink implements ByteStreamSink {
  constructor(
    private readonly port: ByteStreamPort,
    private readonly done: (error?: StreamResetError) => void,
  ) {}
  data(chunk: Uint8Array): void {
    if (!this.port.write(chunk)) this.port.pause();
  }
  drain(): void {
    this.port.resume();
  }
  end(): void {
    this.port.end();
    this.done();
  }
  reset(error: StreamResetError): void {
    this.done(error);
  }
}

/** Collects what arrives; resolves at the end, rejects on a reset. */
class CollectSink implements ByteStreamSink {
  readonly chunks: Uint8Array[] = [];
  readonly ended: Promise<Uint8Array>;
  #resolve!: (bytes: Uint8Array) => void;
  #reject!: (error: StreamResetError) => void;
  constructor() {
    this.ended = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.ended.catch(() => undefined); // a test that expects the reset awaits it
  }
  data(chunk: Uint8Array): void {
    this.chunks.push(chunk);
  }
  drain(): void {}
  end(): void {
    this.#resolve(Buffer.concat(this.chunks));
  }
  reset(error: StreamResetError): void {
    this.#reject(error);
  }
}

/** Writes `bytes` in `chunkSize` pieces, waiting for `drain` whenever `write` says so; then ends. */
async function writeAll(
  port: ByteStreamPort,
  drained: () => Promise<void>,
  bytes: Uint8Array,
  chunkSize: number,
) {
  for (let at = 0; at < bytes.byteLength; at += chunkSize) {
    if (!port.write(bytes.subarray(at, at + chunkSize))) await drained();
  }
  port.end();
}

/** A collecting sink whose `drain` resolves the writer's current wait. */
class WriterSink extends CollectSink {
  #wake: (() => void) | undefined;
  override drain(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
  drained = (): Promise<void> => new Promise((resolve) => (this.#wake = resolve));
}

function pattern(size: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + seed) & 0xff;
  return bytes;
}

describe("byte stream ports over a Unix session", () => {
  it("echo 40 streams at once through ports at both ends, every byte in order, no web stream made", async () => {
    await withUnixHub(async (client, hub) => {
      await hub.register("port.echo", ({ stream }: { stream: ByteStream }) => {
        const port = stream.openPort();
        if (port === undefined) throw new Error("the service's end was already in use");
        return new Promise<void>((resolve, reject) =>
          port.start(new EchoSink(port, (error) => (error === undefined ? resolve() : reject(error)))),
        );
      });
      made.readable = made.writable = 0;
      const opens = Array.from({ length: 40 }, async (_, index) => {
        const sent = pattern(1000 + index * 997, index);
        const [mine, theirs] = ByteStream.pair();
        const served = client.call("port.echo", { stream: theirs }, { timeout: 20_000 });
        const port = mine.openPort()!;
        const sink = new WriterSink();
        port.start(sink);
        await writeAll(port, sink.drained, sent, 4096);
        const echoed = await sink.ended;
        await served;
        await mine.closed;
        expect(Buffer.from(echoed).equals(Buffer.from(sent))).toBe(true);
      });
      await Promise.all(opens);
      expect(made).toEqual({ readable: 0, writable: 0 });
    });
  });

  it("a writer far ahead of a paused reader is held by the window and loses nothing", async () => {
    await withUnixHub(async (client, hub) => {
      const window = 1024 * 1024; // the default stream window of a session
      let servicePort: ByteStreamPort | undefined;
      const serviceSink = new CollectSink();
      await hub.register("port.sink", ({ stream }: { stream: ByteStream }) => {
        servicePort = stream.openPort()!;
        servicePort.pause(); // reads nothing until the test resumes it
        servicePort.start(serviceSink);
        return "started";
      });
      const [mine, theirs] = ByteStream.pair();
      expect(await client.call("port.sink", { stream: theirs })).toBe("started");
      const port = mine.openPort()!;
      const sink = new WriterSink();
      port.start(sink);
      const sent = pattern(4 * window, 7);
      let writes = 0;
      let refused = false;
      for (let at = 0; at < sent.byteLength && !refused; at += 16 * 1024) {
        writes += 1;
        refused = !port.write(sent.subarray(at, at + 16 * 1024));
      }
      // The reader is paused: the writer was told to wait long before all 4 MiB were taken.
      expect(refused).toBe(true);
      expect(writes * 16 * 1024).toBeLessThan(sent.byteLength);
      const rest = sent.subarray(writes * 16 * 1024);
      const draining = sink.drained();
      servicePort!.resume();
      await draining;
      await writeAll(port, sink.drained, rest, 16 * 1024);
      const received = await serviceSink.ended;
      expect(Buffer.from(received).equals(Buffer.from(sent))).toBe(true);
    });
  });

  it("a reset at the client reaches the service's port sink as a StreamResetError", async () => {
    await withUnixHub(async (client, hub) => {
      const serviceSink = new CollectSink();
      await hub.register("port.sink", ({ stream }: { stream: ByteStream }) => {
        stream.openPort()!.start(serviceSink);
        return "started";
      });
      const [mine, theirs] = ByteStream.pair();
      await client.call("port.sink", { stream: theirs });
      const port = mine.openPort()!;
      port.start(new CollectSink());
      port.write(pattern(100, 1));
      mine.reset(new Error("client gave up"));
      await expect(serviceSink.ended).rejects.toBeInstanceOf(StreamResetError);
      expect(mine.openPort()).toBeUndefined();
    });
  });
});

/**
 * The transport compliance suite: one set of behaviours every transport must show, written
 * once against `HubClient` and run by each transport's test file with its own fixture.
 *
 * The hub under test always lives in the test process (so tests can add middleware and look at
 * it); the fixture services are served by a peer that connected through the transport (in a
 * child process where the transport crosses processes); the test talks through sessions that
 * also connect through the transport.
 */
import { createHash } from "node:crypto";
import { mkdtemp, open, rm, writeFile } from "node:fs/promises";
import { createServer, connect, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  ByteStream,
  CallAbortedError,
  CallTimeoutError,
  Channel,
  ClosedError,
  FdUnavailableError,
  FileDescriptor,
  InvalidNameError,
  ServiceError,
  ServiceGoneError,
  ServiceNotFoundError,
  StreamResetError,
  type Hub,
  type HubClient,
  type WatchEvent,
} from "../../index.js";
import { pubsubCases } from "./pubsub-cases.js";

export interface ComplianceFixture {
  /** The hub under test, in this process. */
  hub: Hub;
  /** Opens a new session to the hub through the transport under test. */
  connect(): Promise<HubClient>;
  /** Tears everything down (peer process included). */
  close(): Promise<void>;
  /** Whether file descriptors can travel (false for network transports; default true). */
  supportsFds?: boolean;
  /**
   * Descriptors cannot travel and sending one fails with `FdUnavailableError` instead of going
   * as a byte stream (the Unix transport without its addon). Implies `supportsFds: false`.
   */
  fdsUnavailable?: boolean;
  /**
   * Closing a session resets the byte streams it carried even when their writer finished (its
   * END was given, the reader has not taken everything yet): true for the in-process memory
   * session, whose stream ends are never told their input is complete (only wire ends are).
   */
  closeResetsFinishedStreams?: boolean;
}

/** Bounds a wait so a broken transport fails a test instead of hanging it. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function nextEvent(iterator: AsyncIterator<WatchEvent>, what: string): Promise<WatchEvent> {
  const result = await within(iterator.next(), 3000, what);
  if (result.done) throw new Error(`watch ended while waiting for ${what}`);
  return result.value;
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** The client side of the `fx.nest` protocol (see services.ts). */
function serveNesting(channel: Channel): void {
  channel.handle(async (data) => {
    const { level, last, channel: next } = data as { level: number; last?: boolean; channel?: Channel };
    if (last) return [level];
    const [mine, theirs] = Channel.pair();
    serveNesting(mine);
    return next!.request({ channel: theirs }, { timeout: 5000 });
  });
}

export function complianceSuite(transport: string, setUp: () => Promise<ComplianceFixture>): void {
  describe(`compliance: ${transport}`, () => {
    let fixture: ComplianceFixture;
    let client: HubClient;

    beforeAll(async () => {
      fixture = await setUp();
      client = await fixture.connect();
      // The peer registers asynchronously; wait until its last service is visible.
      await client.call("fx.echo", null, { waitForService: 10_000, timeout: 10_000 });
    });

    afterAll(async () => {
      await client?.close();
      await fixture?.close();
    });

    pubsubCases(() => fixture);

    describe("discovery", () => {
      it("lists, looks up and filters by labels", async () => {
        const registration = await client.register("svc.discovery", () => "ok", {
          labels: { zone: "a", tier: "gold" },
        });
        try {
          const found = await client.lookup("svc.discovery");
          expect(found).toHaveLength(1);
          expect(found[0]).toMatchObject({ name: "svc.discovery", labels: { zone: "a", tier: "gold" } });
          expect(await client.lookup("svc.discovery", { labels: { zone: "b" } })).toEqual([]);
          const fixtures = await client.list({ prefix: "fx.", labels: { role: "fixture" } });
          expect(fixtures.map((service) => service.name)).toContain("fx.echo");
          expect(fixtures.every((service) => service.name.startsWith("fx."))).toBe(true);
        } finally {
          await registration.unregister();
        }
        expect(await client.lookup("svc.discovery")).toEqual([]);
      });

      it("watches registrations come and go", async () => {
        const watch = client.watch({ prefix: "svc.watched" });
        const other = await fixture.connect();
        try {
          const registration = await other.register("svc.watched", () => 1, { labels: { v: "1" } });
          const added = await nextEvent(watch, "the added event");
          expect(added.type).toBe("added");
          expect(added.service).toMatchObject({ name: "svc.watched", labels: { v: "1" } });
          await registration.unregister();
          const removed = await nextEvent(watch, "the removed event");
          expect(removed).toMatchObject({ type: "removed", service: { name: "svc.watched" } });
          // A session that goes away takes its registrations with it, and watchers see it.
          await other.register("svc.watched", () => 2);
          expect((await nextEvent(watch, "second added")).type).toBe("added");
          await other.close();
          expect((await nextEvent(watch, "removed on close")).type).toBe("removed");
        } finally {
          watch.close();
          await other.close();
        }
        expect(await within(watch.next(), 1000, "end of watch")).toEqual({ done: true, value: undefined });
      });

      it("starts a watch with the existing registrations", async () => {
        const watch = client.watch({ name: "fx.echo" });
        const first = await nextEvent(watch, "existing registration");
        watch.close();
        expect(first).toMatchObject({ type: "added", service: { name: "fx.echo" } });
      });

      it("rejects invalid names and labels with a clear error", async () => {
        await expect(client.register("bad name", () => 1)).rejects.toThrow(InvalidNameError);
        await expect(client.register("", () => 1)).rejects.toThrow(/invalid service name/);
        await expect(client.register("ok.name", () => 1, { labels: { "bad key": "x" } })).rejects.toThrow(
          InvalidNameError,
        );
        await expect(client.call("no spaces allowed")).rejects.toThrow(InvalidNameError);
      });
    });

    describe("request/response", () => {
      it("carries structured data both ways unchanged", async () => {
        const data = {
          text: "héllo wörld ✓ 🚀",
          numbers: [0, -1, 1.5, 2 ** 40],
          nested: { deep: { deeper: [true, false, null] } },
          binary: new Uint8Array([0, 1, 2, 254, 255]),
          empty: {},
        };
        const reply = await client.call<typeof data>("fx.echo", data);
        expect(reply).toEqual(data);
        expect(reply.binary).toBeInstanceOf(Uint8Array);
      });

      it("delivers a handler's error as a typed ServiceError", async () => {
        const failure = await client
          .call("fx.fail", { message: "not today" })
          .catch((error: unknown) => error);
        expect(failure).toBeInstanceOf(ServiceError);
        const error = failure as ServiceError;
        expect(error.remoteName).toBe("Nope");
        expect(error.message).toBe("not today");
        expect(error.code).toBe("ENOPE");
        expect(error.details).toEqual({ hint: "try again later" });
        expect(error.cause).toBeInstanceOf(Error);
      });

      it("fails at once with ServiceNotFoundError when nobody serves the name", async () => {
        const started = Date.now();
        await expect(client.call("svc.nobody")).rejects.toThrow(ServiceNotFoundError);
        expect(Date.now() - started).toBeLessThan(1000);
      });

      it("waits (bounded) for a service to appear when asked to", async () => {
        const pending = client.call("svc.late", "x", { waitForService: 5000 });
        const other = await fixture.connect();
        try {
          await other.register("svc.late", (data) => `late ${String(data)}`);
          expect(await within(pending, 5000, "the waited call")).toBe("late x");
          await expect(client.call("svc.never", null, { waitForService: 100 })).rejects.toThrow(
            /waited 100 ms/,
          );
        } finally {
          await other.close();
        }
      });

      it("times out with CallTimeoutError and aborts the handler's signal", async () => {
        await expect(client.call("fx.hang", { id: "t1" }, { timeout: 100 })).rejects.toThrow(
          CallTimeoutError,
        );
        await expect
          .poll(() => client.call("fx.hang.status", { id: "t1" }), { timeout: 2000 })
          .toMatchObject({ aborted: true });
      });

      it("is cancelled by an AbortSignal", async () => {
        const controller = new AbortController();
        const pending = client.call("fx.hang", { id: "a1" }, { signal: controller.signal });
        await expect
          .poll(() => client.call("fx.hang.status", { id: "a1" }), { timeout: 2000 })
          .not.toBeNull();
        controller.abort(new Error("changed my mind"));
        await expect(pending).rejects.toThrow(CallAbortedError);
        await expect
          .poll(() => client.call("fx.hang.status", { id: "a1" }), { timeout: 2000 })
          .toMatchObject({ aborted: true });
        await expect(client.call("fx.echo", 1, { signal: AbortSignal.abort() })).rejects.toThrow(
          CallAbortedError,
        );
      });

      it("shows the handler who is calling", async () => {
        const reply = await client.call<{ caller: { sessionId: string }; service: { name: string } }>(
          "fx.whoami",
        );
        expect(reply.service.name).toBe("fx.whoami");
        expect(typeof reply.caller.sessionId).toBe("string");
      });

      it("balances calls across instances of a name", async () => {
        const a = await fixture.connect();
        const b = await fixture.connect();
        try {
          await a.register("svc.balanced", () => "a");
          await b.register("svc.balanced", () => "b");
          const replies = await Promise.all(Array.from({ length: 20 }, () => client.call("svc.balanced")));
          expect(replies.filter((reply) => reply === "a").length).toBe(10);
          expect(replies.filter((reply) => reply === "b").length).toBe(10);
        } finally {
          await a.close();
          await b.close();
        }
      });

      it("fails over to another instance when the serving one goes away", async () => {
        const a = await fixture.connect();
        const b = await fixture.connect();
        try {
          let arrivedAtA!: () => void;
          const atA = new Promise<void>((resolve) => (arrivedAtA = resolve));
          await a.register("svc.failover", () => {
            arrivedAtA();
            return new Promise(() => undefined); // never answers
          });
          await b.register("svc.failover", () => "from b");
          // Round robin: one of two consecutive calls lands on `a`.
          const calls = [client.call("svc.failover"), client.call("svc.failover")];
          await within(atA, 3000, "a call to reach instance a");
          await a.close(); // instance a goes away mid-call
          expect(await within(Promise.all(calls), 3000, "failover")).toEqual(["from b", "from b"]);
        } finally {
          await a.close();
          await b.close();
        }
      });

      it("fails a call whose only instance goes away with ServiceGoneError", async () => {
        const a = await fixture.connect();
        let arrived!: () => void;
        const reached = new Promise<void>((resolve) => (arrived = resolve));
        await a.register("svc.gone", () => {
          arrived();
          return new Promise(() => undefined);
        });
        const pending = client.call("svc.gone");
        await within(reached, 3000, "the call to arrive");
        // Expected before the close: close() resolves once the hub answered it, after the hub
        // failed the call (else the failure is reported as an unhandled rejection meanwhile).
        const failed = expect(within(pending, 3000, "the failure")).rejects.toThrow(ServiceGoneError);
        await a.close();
        await failed;
      });

      it("runs hub middleware around calls, which can refuse them", async () => {
        const seen: string[] = [];
        fixture.hub.use(async (context, next) => {
          if (context.service.name === "fx.echo" && context.data === "forbidden") {
            throw Object.assign(new Error("not allowed"), { code: "EFORBIDDEN" });
          }
          seen.push(context.service.name);
          return next();
        });
        expect(await client.call("fx.echo", "fine")).toBe("fine");
        expect(seen).toContain("fx.echo");
        await expect(client.call("fx.echo", "forbidden")).rejects.toMatchObject({ code: "EFORBIDDEN" });
      });
    });

    describe("channels", () => {
      it("lets the service send a request back to the caller", async () => {
        const [mine, theirs] = Channel.pair();
        mine.handle((data) => `${(data as { question: string }).question}? yes`);
        expect(await client.call("fx.ask", { channel: theirs, question: "ready" })).toEqual({
          answer: "ready? yes",
        });
        mine.close();
      });

      it("streams events from the service to the caller", async () => {
        const [mine, theirs] = Channel.pair();
        const done = client.call("fx.events", { channel: theirs, count: 50 });
        const seen: unknown[] = [];
        for await (const message of mine) seen.push(message.data);
        expect(await done).toBe("sent");
        expect(seen).toEqual(Array.from({ length: 50 }, (_, seq) => ({ seq })));
      });

      it("streams events from the caller to the service", async () => {
        const [mine, theirs] = Channel.pair();
        const collected = client.call("fx.collect", { channel: theirs });
        for (let i = 0; i < 20; i++) await mine.send(i);
        mine.close();
        expect(await within(collected, 3000, "collect")).toEqual(Array.from({ length: 20 }, (_, i) => i));
      });

      it("nests requests and channels both ways, five levels deep", async () => {
        const [mine, theirs] = Channel.pair();
        serveNesting(mine);
        expect(await within(client.call("fx.nest", { channel: theirs, depth: 4 }), 5000, "nesting")).toEqual([
          1, 2, 3, 4, 5,
        ]);
      });

      it("supports self-registering workers", async () => {
        const worker = await fixture.connect();
        const [jobs, jobsForPool] = Channel.pair();
        jobs.handle((job) => ({ doneBy: "worker", job }));
        try {
          await worker.call("fx.pool.join", { jobs: jobsForPool });
          expect(await client.call("fx.pool.run", { task: 42 })).toEqual({
            doneBy: "worker",
            job: { task: 42 },
          });
          // The worker leaves: its channel closes with its session, and the pool notices.
          await worker.close();
          await expect(within(jobs.closed, 3000, "worker channel close")).resolves.toBeUndefined();
          await expect(client.call("fx.pool.run", { task: 43 })).rejects.toThrow(/no worker joined|closed/);
        } finally {
          await worker.close();
        }
      });

      it("rejects pending requests with ClosedError when the channel closes", async () => {
        const [mine, theirs] = Channel.pair();
        const asked = client.call("fx.ask", { channel: theirs, question: "never answered" });
        // Wait for the question to arrive, then close instead of answering.
        const iterator = mine[Symbol.asyncIterator]();
        const question = await within(iterator.next(), 3000, "the question");
        expect(question.value?.isRequest).toBe(true);
        mine.close();
        await expect(within(asked, 3000, "the ask to fail")).rejects.toThrow(ServiceError);
        await expect(asked.catch((error: ServiceError) => error.code)).resolves.toBe("ECLOSED");
        await expect(mine.send("late")).rejects.toThrow(ClosedError);
      });
    });

    describe("byte streams", () => {
      it("echoes a megabyte in both directions", async () => {
        const [mine, theirs] = ByteStream.pair();
        expect(await client.call("fx.stream.echo", { stream: theirs })).toBe("echoing");
        const payload = new Uint8Array(1 << 20).map((_, i) => (i * 31) & 0xff);
        const writing = (async () => {
          const writer = mine.writable.getWriter();
          for (let offset = 0; offset < payload.length; offset += 16 * 1024) {
            await writer.write(payload.slice(offset, offset + 16 * 1024));
          }
          await writer.close(); // half-close: the echo ends when our side ends
        })();
        const echoed = await within(readAll(mine.readable), 10_000, "the echo");
        await writing;
        expect(echoed.equals(Buffer.from(payload))).toBe(true);
      });

      it("half-closes: the reader sees the end and can still answer", async () => {
        const [mine, theirs] = ByteStream.pair();
        const digest = client.call<{ bytes: number; sha256: string }>("fx.stream.digest", { stream: theirs });
        const data = new TextEncoder().encode("the quick brown fox ".repeat(1000));
        const writer = mine.writable.getWriter();
        await writer.write(data);
        await writer.close();
        const reply = await within(digest, 5000, "digest");
        expect(reply).toEqual({
          bytes: data.length,
          sha256: createHash("sha256").update(data).digest("hex"),
        });
        expect(await readAll(mine.readable)).toHaveLength(0); // the service closed its side too
      });

      it("applies backpressure: a slow reader holds the writer back", async () => {
        const [mine, theirs] = ByteStream.pair();
        const [progress, progressForService] = Channel.pair();
        let written = 0;
        const watching = (async () => {
          for await (const message of progress) written = message.data as number;
        })();
        const total = 32 << 20;
        await client.call("fx.stream.produce", {
          stream: theirs,
          total,
          chunk: 64 * 1024,
          progress: progressForService,
        });
        await new Promise((resolve) => setTimeout(resolve, 300)); // we read nothing meanwhile
        const aheadWhileIdle = written;
        expect(aheadWhileIdle).toBeLessThan(total / 2);
        const received = await within(readAll(mine.readable), 10_000, "all bytes");
        expect(received.length).toBe(total);
        progress.close();
        await watching;
      });

      it("propagates a reset to the other end as StreamResetError", async () => {
        const [mine, theirs] = ByteStream.pair();
        const reset = client.call("fx.stream.reset", { stream: theirs });
        const writer = mine.writable.getWriter();
        await writer.write(new Uint8Array([1, 2, 3]));
        expect(await within(reset, 3000, "reset")).toBe("reset");
        const reader = mine.readable.getReader();
        await expect(within(reader.read(), 3000, "read after reset")).rejects.toThrow(StreamResetError);
        await expect
          .poll(
            () =>
              writer.write(new Uint8Array([4])).then(
                () => "written",
                (error: unknown) => error,
              ),
            {
              timeout: 3000,
            },
          )
          .toBeInstanceOf(StreamResetError);
      });
    });

    describe("file descriptors", () => {
      beforeEach((context) => {
        if (fixture.supportsFds === false || fixture.fdsUnavailable === true) {
          context.skip("this transport cannot carry file descriptors");
        }
      });
      let dir: string;
      beforeAll(async () => {
        dir = await mkdtemp(join(tmpdir(), "beamhub-fd-"));
      });
      afterAll(async () => {
        await rm(dir, { recursive: true, force: true });
      });

      it("passes an open file", async () => {
        const path = join(dir, "note.txt");
        await writeFile(path, "content behind a descriptor");
        const handle = await open(path, "r");
        const reply = await client.call<{ text: string }>("fx.fd.read", { file: new FileDescriptor(handle) });
        expect(reply.text).toBe("content behind a descriptor");
      });

      it("passes a connected TCP socket, and the service answers the client directly", async () => {
        const server: Server = createServer();
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        const port = (server.address() as { port: number }).port;
        const accepted = new Promise<Socket>((resolve) => server.once("connection", resolve));
        const tcpClient = connect(port, "127.0.0.1");
        const received: Buffer[] = [];
        tcpClient.on("data", (chunk: Buffer) => received.push(chunk));
        const ended = new Promise((resolve) => tcpClient.once("end", resolve));
        const socket = await within(accepted, 3000, "the TCP connection");
        const kind = await client.call("fx.fd.greet", {
          socket: new FileDescriptor(socket),
          text: "hi from the service",
        });
        expect(kind).toBe("socket");
        await within(ended, 3000, "the greeting");
        expect(Buffer.concat(received).toString()).toBe("hi from the service");
        tcpClient.destroy();
        server.close();
      });
    });

    describe("without fd passing", () => {
      beforeEach((context) => {
        if (fixture.fdsUnavailable !== true) context.skip("this transport carries file descriptors");
      });

      it("fails to send a descriptor with FdUnavailableError, and the session goes on", async () => {
        const dir = await mkdtemp(join(tmpdir(), "beamhub-fd-"));
        try {
          const path = join(dir, "note.txt");
          await writeFile(path, "content behind a descriptor");
          const handle = await open(path, "r");
          const failure = await client
            .call("fx.fd.read", { file: new FileDescriptor(handle) })
            .catch((error: unknown) => error);
          expect(failure).toBeInstanceOf(FdUnavailableError);
          expect(failure).toMatchObject({ code: "EFD_UNAVAILABLE" });
          await handle.close().catch(() => undefined);
          expect(await client.call("fx.echo", { still: "here" })).toEqual({ still: "here" });
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      });
    });

    describe("lifecycle", () => {
      it("a closed session rejects further use and its pending calls", async () => {
        const session = await fixture.connect();
        const pending = session.call("fx.hang", { id: "closing" });
        await expect
          .poll(() => client.call("fx.hang.status", { id: "closing" }), { timeout: 2000 })
          .not.toBeNull();
        // Expected before the close: close() resolves only once the session's bytes have left, a
        // later turn than the one that fails the pending call.
        const failed = expect(within(pending, 2000, "pending call")).rejects.toThrow(ClosedError);
        await session.close();
        await failed;
        await expect(session.call("fx.echo", 1)).rejects.toThrow(ClosedError);
        // The handler learns that nobody waits any more.
        await expect
          .poll(() => client.call("fx.hang.status", { id: "closing" }), { timeout: 2000 })
          .toMatchObject({ aborted: true });
      });

      it(
        "delivers what was written before close: a stream's every byte and its END reach a slow reader",
        { timeout: 40_000 },
        async (context) => {
          if (fixture.closeResetsFinishedStreams === true) {
            context.skip("this session's close resets the streams it carried, END or not");
          }
          const session = await fixture.connect();
          const [mine, theirs] = ByteStream.pair();
          const id = `close-delivers-${transport}`;
          expect(
            await session.call(
              "fx.stream.keep",
              { id, stream: theirs, pauseMs: 15 },
              { waitForService: 10_000 },
            ),
          ).toBe("keeping");
          // Past every stream window (1 MiB on Unix, 4 MiB over HTTPS): the tail waits for credit
          // when the writer is told "closed", and the reader takes a second or more for it.
          const payload = new Uint8Array(5 << 20).map((_, i) => (i * 13) & 0xff);
          const writer = mine.writable.getWriter();
          for (let offset = 0; offset < payload.length; offset += 64 * 1024) {
            await within(writer.write(payload.slice(offset, offset + 64 * 1024)), 10_000, "a write");
          }
          await writer.close();
          await within(session.close(), 15_000, "the close to deliver");
          await expect
            .poll(() => client.call("fx.stream.kept", { id }), { timeout: 15_000, interval: 100 })
            .toEqual({ bytes: payload.length, sha256: createHash("sha256").update(payload).digest("hex") });
        },
      );

      it("closing a session closes the channels and streams it carried", async () => {
        const session = await fixture.connect();
        const [mine, theirs] = Channel.pair();
        const [streamMine, streamTheirs] = ByteStream.pair();
        mine.handle(() => "pong");
        await session.call("fx.pool.join", { jobs: theirs });
        await session.call("fx.stream.echo", { stream: streamTheirs });
        await session.close();
        await within(mine.closed, 3000, "channel close");
        await within(streamMine.closed, 3000, "stream close");
        expect(mine.isClosed).toBe(true);
        expect(streamMine.isClosed).toBe(true);
      });
    });
  });
}

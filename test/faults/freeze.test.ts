// Frozen peers (SIGSTOP) over Unix, HTTP/2 and WebSocket: a frozen service, a frozen client and
// a frozen hub, each with a call, a byte stream and a channel in flight. Everything pending
// fails with a typed error within the keep-alive bound (PROTOCOL.md, "Keep-alive": 2.25x the
// interval after the peer's last bytes), and after SIGCONT the frozen side finds its sessions
// gone — never half-alive. The keep-alive interval is short here (200 ms) to keep the file fast.
import { mkdtemp, rm } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BeamhubError,
  ByteStream,
  Channel,
  ClosedError,
  ConnectionLostError,
  ServiceGoneError,
  StreamResetError,
  type CallContext,
  type RemoteHub,
} from "../../index.js";
import { connectHttps } from "../../transports/http2/index.js";
import { connectUnix } from "../../transports/unix/index.js";
import { killAll, startChild, within, type Child } from "./processes.js";

const KEEP_ALIVE_MS = 200;
/** The documented bound (2.25x the interval), plus room for a loaded 2-core machine to schedule. */
const WAIT_MS = 2.25 * KEEP_ALIVE_MS + 4000;
const FIXTURES = join(import.meta.dirname, "fixtures");
const TRANSPORTS = ["unix", "http2", "websocket"] as const;
type Transport = (typeof TRANSPORTS)[number];

let dir: string;
let hubProcess: Child;
let address: { socket: string; url: string };
let cert: Buffer;
const sessions: RemoteHub[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-freeze-"));
  hubProcess = await startChild(join(FIXTURES, "hub.ts"), [dir, String(KEEP_ALIVE_MS)]);
  address = JSON.parse(hubProcess.lines[0]!) as typeof address;
  cert = readFileSync(join(dir, "cert.pem"));
});

afterAll(async () => {
  await Promise.all(sessions.map((session) => session.close().catch(() => undefined)));
  await killAll();
  await rm(dir, { recursive: true, force: true });
});

async function connectOver(transport: Transport): Promise<RemoteHub> {
  const session =
    transport === "unix"
      ? await connectUnix(address.socket, { keepAlive: KEEP_ALIVE_MS })
      : await connectHttps(address.url, { ca: cert, transport, keepAlive: KEEP_ALIVE_MS });
  sessions.push(session);
  return session;
}

function startPeer(role: "service" | "client", transport: Transport, service: string): Promise<Child> {
  const args = {
    role,
    transport,
    ...address,
    cert: join(dir, "cert.pem"),
    keepAlive: KEEP_ALIVE_MS,
    service,
  };
  return startChild(join(FIXTURES, "peer.ts"), [JSON.stringify(args)]);
}

/** Writes to `stream` until a write fails; rejects with that failure. */
async function writeUntilFailure(stream: ByteStream): Promise<never> {
  const writer = stream.writable.getWriter();
  for (;;) {
    await writer.write(new Uint8Array(1024));
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Reads `stream` to its end or failure; rejects with the failure. */
async function readUntilFailure(stream: ByteStream): Promise<void> {
  for await (const _chunk of stream.readable) {
    // drained
  }
}

/** A service in this process whose handler never answers; resolves each call as it arrives. */
function holdingHandler(): {
  handler: (data: unknown, context: CallContext) => Promise<never>;
  next: Promise<{ data: { stream: ByteStream; events: Channel }; cancelled: Promise<unknown> }>;
} {
  let resolve!: (call: {
    data: { stream: ByteStream; events: Channel };
    cancelled: Promise<unknown>;
  }) => void;
  const next = new Promise<{ data: { stream: ByteStream; events: Channel }; cancelled: Promise<unknown> }>(
    (settle) => (resolve = settle),
  );
  return {
    handler: (data, context) => {
      resolve({
        data: data as { stream: ByteStream; events: Channel },
        cancelled: new Promise((settle) => context.onCancel(settle)),
      });
      return new Promise(() => undefined);
    },
    next,
  };
}

describe.each(TRANSPORTS)("over %s", (transport) => {
  it("a frozen service: the call, its stream and its channel fail typed; after SIGCONT its session is gone", async () => {
    const name = `frozen.service.${transport}`;
    const service = await startPeer("service", transport, name);
    const caller = await connectOver(transport);
    const [stream, streamForService] = ByteStream.pair();
    const [events, eventsForService] = Channel.pair();
    const pending = caller.call(
      name,
      { stream: streamForService, events: eventsForService },
      { timeout: 120_000 },
    );
    pending.catch(() => undefined);
    const iterator = events[Symbol.asyncIterator]();
    expect((await within(iterator.next(), 10_000, "the service to start")).value?.data).toBe("started");

    service.freeze();
    await expect(within(pending, WAIT_MS, "the call to fail")).rejects.toBeInstanceOf(ServiceGoneError);
    await expect(within(writeUntilFailure(stream), WAIT_MS, "the stream to fail")).rejects.toBeInstanceOf(
      StreamResetError,
    );
    await within(events.closed, WAIT_MS, "the channel to close");
    expect(await caller.lookup(name)).toEqual([]);

    service.thaw();
    expect(await service.line(/^closed /, WAIT_MS)).toBe("closed ECONNECTION_LOST");
    expect(await caller.call(`missing.${transport}`).catch((error: BeamhubError) => error.code)).toBe(
      "ESERVICE_NOT_FOUND",
    );
    await service.kill();
  }, 40_000);

  it("a frozen client: the hub drops it; the service sees the call cancelled, the stream reset, the channel closed", async () => {
    const name = `held.by.client.${transport}`;
    const service = await connectOver(transport);
    const held = holdingHandler();
    await service.register(name, held.handler);
    const client = await startPeer("client", transport, name);
    const call = await within(held.next, 10_000, "the client's call");

    client.freeze();
    expect(await within(call.cancelled, WAIT_MS, "the call to be cancelled")).toBeInstanceOf(BeamhubError);
    await expect(
      within(readUntilFailure(call.data.stream), WAIT_MS, "the stream to fail"),
    ).rejects.toBeInstanceOf(StreamResetError);
    await within(call.data.events.closed, WAIT_MS, "the channel to close");

    client.thaw();
    expect(await client.line(/^closed /, WAIT_MS)).toBe("closed ECONNECTION_LOST");
    expect(await client.line(/^call failed /, WAIT_MS)).toMatch(/^call failed E[A-Z_]+$/);
    expect(await client.line(/^stream failed /, WAIT_MS)).toMatch(/^stream failed E[A-Z_]+$/);
    expect(await client.line(/^channel closed$/, WAIT_MS)).toBe("channel closed");
    await client.kill();
    // The service's own session is untouched.
    expect((await service.lookup(name)).length).toBe(1);
  }, 40_000);
});

describe("a frozen hub", () => {
  it("fails every session's calls, streams and channels typed over every transport; after SIGCONT they are gone there too", async () => {
    const flows = await Promise.all(
      TRANSPORTS.map(async (transport) => {
        const name = `held.under.frozen.hub.${transport}`;
        const service = await connectOver(transport);
        const caller = await connectOver(transport);
        const held = holdingHandler();
        await service.register(name, held.handler);
        const [stream, streamForService] = ByteStream.pair();
        const [events, eventsForService] = Channel.pair();
        const pending = caller.call(
          name,
          { stream: streamForService, events: eventsForService },
          { timeout: 120_000 },
        );
        pending.catch(() => undefined);
        const call = await within(held.next, 10_000, `the call over ${transport}`);
        return { transport, service, caller, pending, stream, events, call };
      }),
    );

    hubProcess.freeze();
    try {
      await Promise.all(
        flows.map(async ({ transport, service, caller, pending, stream, events, call }) => {
          const what = (thing: string): string => `${thing} over ${transport}`;
          const lost = await within(caller.connection.closed, WAIT_MS, what("the caller's session to end"));
          expect(lost).toBeInstanceOf(ConnectionLostError);
          expect(lost?.message).toMatch(/keep-alive/);
          expect(
            await within(service.connection.closed, WAIT_MS, what("the service's session to end")),
          ).toBeInstanceOf(ConnectionLostError);
          await expect(within(pending, WAIT_MS, what("the call to fail"))).rejects.toBeInstanceOf(
            ClosedError,
          );
          await expect(
            within(writeUntilFailure(stream), WAIT_MS, what("the caller's stream")),
          ).rejects.toBeInstanceOf(BeamhubError);
          await within(events.closed, WAIT_MS, what("the caller's channel to close"));
          expect(await within(call.cancelled, WAIT_MS, what("the handler's cancellation"))).toBeInstanceOf(
            BeamhubError,
          );
          await expect(
            within(readUntilFailure(call.data.stream), WAIT_MS, what("the service's stream")),
          ).rejects.toBeInstanceOf(BeamhubError);
          await within(call.data.events.closed, WAIT_MS, what("the service's channel to close"));
        }),
      );
    } finally {
      hubProcess.thaw();
    }

    // The hub, running again, dropped those sessions too: their services are gone.
    const after = await connectOver("unix");
    await within(
      (async () => {
        while ((await after.list({ prefix: "held.under.frozen.hub." })).length > 0) {
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      })(),
      WAIT_MS,
      "the hub to drop the frozen-over sessions' services",
    );
    for (const transport of TRANSPORTS) {
      const again = await connectOver(transport);
      expect(await again.list({ prefix: "held.under.frozen.hub." })).toEqual([]);
    }
  }, 60_000);
});

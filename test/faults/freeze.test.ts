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
  type CallContext,
  Channel,
  ClosedError,
  connectHttps,
  ConnectionLostError,
  type RemoteHub,
  ServiceGoneError,
  StreamResetError,
} from "../../index.js";
import { connectUnix } from "../../hub/remote/unix.js";
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

/**
 * A session without reconnection: these tests are about what keep-alive detects and fails;
 * a client that reconnected would register its services again once the hub thaws.
 */
async function connectOver(transport: Transport): Promise<RemoteHub> {
  const session =
    transport === "unix"
      ? await connectUnix(address.socket, { keepAlive: KEEP_ALIVE_MS, reconnect: false })
      : await connectHttps(address.url, { ca: cert, transport, keepAlive: KEEP_ALIVE_MS, reconnect: false });
  sessions.push(session);
  return session;
}

function startPeer(role: "service" | "client", service: string): Promise<Child> {
  const args = {
    role,
    transports: TRANSPORTS,
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

describe("a frozen service process (one session per transport)", () => {
  it("fails each transport's call, stream and channel typed; after SIGCONT its sessions are gone", async () => {
    const service = await startPeer("service", "frozen.service");
    const flows = await Promise.all(
      TRANSPORTS.map(async (transport) => {
        const name = `frozen.service.${transport}`;
        const caller = await connectOver(transport);
        const [stream, streamForService] = ByteStream.pair();
        const [events, eventsForService] = Channel.pair();
        const pending = caller.call(
          name,
          { stream: streamForService, events: eventsForService },
          { timeout: 120_000 },
        );
        pending.catch(() => undefined);
        const first = await within(
          events[Symbol.asyncIterator]().next(),
          10_000,
          `the service over ${transport}`,
        );
        expect(first.value?.data).toBe("started");
        return { transport, name, caller, pending, stream, events };
      }),
    );

    service.freeze();
    await Promise.all(
      flows.map(async ({ transport, name, caller, pending, stream, events }) => {
        const what = (thing: string): string => `${thing} over ${transport}`;
        await expect(within(pending, WAIT_MS, what("the call to fail"))).rejects.toBeInstanceOf(
          ServiceGoneError,
        );
        await expect(
          within(writeUntilFailure(stream), WAIT_MS, what("the stream to fail")),
        ).rejects.toBeInstanceOf(StreamResetError);
        await within(events.closed, WAIT_MS, what("the channel to close"));
        expect(await caller.lookup(name)).toEqual([]);
      }),
    );

    service.thaw();
    for (const transport of TRANSPORTS) {
      expect(await service.line(new RegExp(`^closed ${transport} `), WAIT_MS)).toBe(
        `closed ${transport} ECONNECTION_LOST`,
      );
      // The callers' sessions are untouched.
      const caller = flows.find((flow) => flow.transport === transport)!.caller;
      expect(await caller.call(`missing.${transport}`).catch((error: BeamhubError) => error.code)).toBe(
        "ESERVICE_NOT_FOUND",
      );
    }
    await service.kill();
  }, 40_000);
});

describe("a frozen client process (one session per transport)", () => {
  it("is dropped by the hub: the service sees each call cancelled, its stream reset, its channel closed", async () => {
    const services = await Promise.all(
      TRANSPORTS.map(async (transport) => {
        const service = await connectOver(transport);
        const held = holdingHandler();
        await service.register(`held.by.client.${transport}`, held.handler);
        return { transport, service, held };
      }),
    );
    const client = await startPeer("client", "held.by.client");
    const calls = await Promise.all(
      services.map(async (flow) => ({
        ...flow,
        call: await within(flow.held.next, 10_000, `the call over ${flow.transport}`),
      })),
    );

    client.freeze();
    await Promise.all(
      calls.map(async ({ transport, call }) => {
        const what = (thing: string): string => `${thing} over ${transport}`;
        expect(await within(call.cancelled, WAIT_MS, what("the call to be cancelled"))).toBeInstanceOf(
          BeamhubError,
        );
        await expect(
          within(readUntilFailure(call.data.stream), WAIT_MS, what("the stream to fail")),
        ).rejects.toBeInstanceOf(StreamResetError);
        await within(call.data.events.closed, WAIT_MS, what("the channel to close"));
      }),
    );

    client.thaw();
    for (const { transport, service } of calls) {
      expect(await client.line(new RegExp(`^closed ${transport} `), WAIT_MS)).toBe(
        `closed ${transport} ECONNECTION_LOST`,
      );
      expect(await client.line(new RegExp(`^call failed ${transport} `), WAIT_MS)).toMatch(/ E[A-Z_]+$/);
      expect(await client.line(new RegExp(`^stream failed ${transport} `), WAIT_MS)).toMatch(/ E[A-Z_]+$/);
      expect(await client.line(new RegExp(`^channel closed ${transport}$`), WAIT_MS)).toBeDefined();
      // The services' own sessions are untouched.
      expect(await service.lookup(`held.by.client.${transport}`)).toHaveLength(1);
    }
    await client.kill();
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
          // In flight when the session ended: a reconnecting client says so (RequestInterruptedError,
          // a ConnectionLostError); one that does not, with ClosedError.
          await expect(within(pending, WAIT_MS, what("the call to fail"))).rejects.toSatisfy(
            (error: unknown) => error instanceof ConnectionLostError || error instanceof ClosedError,
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

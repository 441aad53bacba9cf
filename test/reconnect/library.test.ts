// A library client (connectUnix / connectHttps) under a hub that is killed (SIGKILL) and
// restarted on the same socket path and port: it reconnects with backoff, registers its
// services again (once), its watch goes on without duplicates, in-flight calls fail typed and
// calls made meanwhile succeed once the hub is back. Real processes; every wait is bounded.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ClosedError,
  connectHttps,
  connectUnix,
  Hub,
  InvalidArgumentError,
  listenHttps,
  listenUnix,
  ReconnectGaveUpError,
  type RemoteHub,
  type RemoteHubEventMap,
  type RemoteWatchEvent,
  RequestInterruptedError,
} from "../../index.js";
import {
  backoffDelay,
  RECONNECT_DEFAULTS,
  verifyReconnectOptions,
} from "../../hub/remote/reconnect-options.js";
import { freePort } from "../helpers/ports.js";
import { kill, killAll, startHub, startService, within, type Child } from "./processes.js";

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-reconnect-"));
});

afterAll(async () => {
  killAll();
  await rm(dir, { recursive: true, force: true });
});

/** Resolves with the next `type` event of `hub`. */
function nextEvent<K extends keyof RemoteHubEventMap>(
  hub: RemoteHub,
  type: K,
): Promise<RemoteHubEventMap[K]> {
  return new Promise((resolve) => hub.addEventListener(type, resolve, { once: true }));
}

/** Applies watch events to a set, failing on an `added` twice or a `removed` of nothing. */
class ReportedSet {
  readonly ids = new Map<string, string>();
  readonly events: RemoteWatchEvent[] = [];

  apply(event: RemoteWatchEvent): void {
    this.events.push(event);
    const key = `${event.service.id}/${event.service.sessionId}`;
    if (event.type === "added") {
      if (this.ids.has(key)) throw new Error(`added twice: ${JSON.stringify(event)}`);
      this.ids.set(key, event.service.name);
    } else if (!this.ids.delete(key)) {
      throw new Error(`removed what was never added: ${JSON.stringify(event)}`);
    }
  }
}

interface Setup {
  address: string;
  ca?: string;
  connect(reconnect?: object | false): Promise<RemoteHub>;
}

async function makeSetup(kind: "unix" | "https"): Promise<Setup & { hub: Child; restart(): Promise<Child> }> {
  const socket = join(dir, `${kind}-${Math.random().toString(36).slice(2)}.sock`);
  const certDir = join(dir, "cert");
  const port = await freePort();
  const hub = await startHub(socket, certDir, port);
  const ca = join(certDir, "cert.pem");
  const caPem = await readFile(ca);
  const address = kind === "unix" ? socket : `https://127.0.0.1:${port}`;
  const fast = { initialDelay: 50, maxDelay: 400 };
  return {
    hub,
    address,
    ca: kind === "https" ? ca : undefined,
    restart: () => startHub(socket, certDir, port),
    connect: (reconnect = fast) =>
      kind === "unix"
        ? connectUnix(socket, { reconnect: reconnect === false ? false : { ...fast, ...reconnect } })
        : connectHttps(address, {
            ca: caPem,
            reconnect: reconnect === false ? false : { ...fast, ...reconnect },
          }),
  };
}

/** A hub in this process that the test closes (its clients see the connection go, as in a crash). */
async function inProcessHub(kind: "unix" | "https"): Promise<{
  address: string;
  ca?: string;
  connect(reconnect: object | false): Promise<RemoteHub>;
  stop(): Promise<void>;
}> {
  const hub = new Hub();
  await hub.register("hub.echo", (data: unknown) => data);
  if (kind === "unix") {
    const socket = join(dir, `in-process-${Math.random().toString(36).slice(2)}.sock`);
    const listener = await listenUnix(hub, socket);
    return {
      address: socket,
      connect: (reconnect) => connectUnix(socket, { reconnect }),
      stop: async () => {
        await listener.close();
        await hub.close();
      },
    };
  }
  const certDir = join(dir, "in-process-cert");
  const listener = await listenHttps(hub, { certDir, port: 0 });
  return {
    address: listener.url,
    ca: join(certDir, "cert.pem"),
    connect: (reconnect) => connectHttps(listener.url, { ca: listener.certificate, reconnect }),
    stop: async () => {
      await listener.close();
      await hub.close();
    },
  };
}

describe.each(["unix", "https"] as const)(
  "hub restarted under library clients (%s)",
  { timeout: 60_000 },
  (kind) => {
    it("reconnects a service process, a watch and a caller; nothing is registered twice", async () => {
      const setup = await makeSetup(kind);
      const service = await startService(setup.address, setup.ca);
      const caller = await setup.connect();
      try {
        const firstId = JSON.parse((await service.line(/"ready"/, "ready")).trim()).ready as string;
        expect(await caller.call("svc.add", { a: 1, b: 2 })).toBe(3);

        const watch = caller.watch({ prefix: "svc." });
        const seen = new ReportedSet();
        const first = await within(watch.next(), 5000, "the existing registration");
        seen.apply(first.value as RemoteWatchEvent);
        expect(first.value).toMatchObject({ type: "added", service: { name: "svc.add", id: firstId } });
        expect((first.value as RemoteWatchEvent).resync).toBeUndefined();

        const inFlight = caller.call("hub.hang", null, { timeout: 20_000 });
        inFlight.catch(() => undefined);
        const disconnected = nextEvent(caller, "disconnected");
        const reconnected = nextEvent(caller, "reconnected");
        await new Promise((resolve) => setTimeout(resolve, 50)); // the call reaches the hub
        await kill(setup.hub);

        // In flight: fails typed, and is not sent again.
        const interrupted = await within(
          inFlight.then(
            () => undefined,
            (error: unknown) => error,
          ),
          5000,
          "the in-flight call to fail",
        );
        expect(interrupted).toBeInstanceOf(RequestInterruptedError);
        expect(interrupted).toMatchObject({ code: "ECONNECTION_LOST", operation: 'call "hub.hang"' });
        expect((await within(disconnected, 5000, "disconnected")).willReconnect).toBe(true);
        expect(caller.state).toBe("reconnecting");
        await service.line(/"disconnected"/, "the service to notice");

        // Made while the hub is down: waits for it (within its timeout), then succeeds.
        const meanwhile = caller.call("svc.add", { a: 2, b: 3 }, { timeout: 15_000, waitForService: true });
        const restarted = await setup.restart();
        const back = await within(reconnected, 10_000, "the caller to reconnect");
        expect(back.attempts).toBeGreaterThanOrEqual(1);
        const serviceBack = JSON.parse(await service.line(/"reconnected"/, "the service to reconnect")) as {
          reconnected: string[];
          failures: number;
        };
        expect(serviceBack.failures).toBe(0);
        expect(serviceBack.reconnected).toHaveLength(1);
        expect(await within(meanwhile, 15_000, "the call made while disconnected")).toBe(5);
        expect(caller.state).toBe("connected");

        // Registered once, with the id the service process was told about.
        const listed = await caller.list({ prefix: "svc." });
        expect(listed.map((info) => [info.name, info.id])).toEqual([["svc.add", serviceBack.reconnected[0]]]);
        expect(await caller.lookup("hub.echo")).toHaveLength(1);
        expect(await caller.call("svc.add", { a: 20, b: 22 })).toBe(42);

        // The watch went on: a sentinel registered now comes after everything the restart caused.
        const sentinel = await caller.register("svc.sentinel", () => "here");
        for (;;) {
          const next = await within(watch.next(), 5000, "watch events after the restart");
          if (next.done) throw new Error("the watch ended across the reconnection");
          seen.apply(next.value as RemoteWatchEvent);
          if (next.value.service.name === "svc.sentinel") break;
        }
        const now = await caller.list({ prefix: "svc." });
        expect([...seen.ids.keys()].sort()).toEqual(now.map((info) => `${info.id}/${info.sessionId}`).sort());
        // Whatever the restart changed came marked as resync (or live, if it happened after).
        for (const event of seen.events.slice(1, -1)) expect(["added", "removed"]).toContain(event.type);
        await sentinel.unregister();
        watch.close();
        restarted.child.kill("SIGKILL");
      } finally {
        await caller.close();
        service.child.stdin.end();
        await within(service.exited, 5000, "the service to exit").catch(() => service.child.kill("SIGKILL"));
      }
    });

    it("gives up after maxAttempts: gave-up, waiting calls and watches fail typed, the process exits non-zero", async () => {
      const hub = await inProcessHub(kind);
      const service = await startService(hub.address, hub.ca, 3);
      const caller = await hub.connect({ initialDelay: 20, maxDelay: 100, maxAttempts: 3 });
      const watch = caller.watch({ prefix: "svc." });
      await within(watch.next(), 5000, "the service's registration");
      const gaveUp = nextEvent(caller, "gave-up");
      const disconnected = nextEvent(caller, "disconnected");
      await hub.stop();
      await within(disconnected, 5000, "disconnected");
      const waiting = caller.call("svc.add", { a: 1, b: 1 }, { timeout: 20_000 });
      waiting.catch(() => undefined);

      const event = await within(gaveUp, 10_000, "gave-up");
      expect(event.error).toBeInstanceOf(ReconnectGaveUpError);
      expect(event.error).toMatchObject({ code: "ERECONNECT_GAVE_UP", attempts: 3 });
      await expect(waiting).rejects.toBeInstanceOf(ReconnectGaveUpError);
      await expect(within(watch.next(), 1000, "the watch to end")).rejects.toBeInstanceOf(
        ReconnectGaveUpError,
      );
      expect(await within(caller.closed, 1000, "closed")).toBe(event.error);
      expect(caller.state).toBe("closed");
      await expect(caller.call("svc.add", { a: 1, b: 1 })).rejects.toBeInstanceOf(ReconnectGaveUpError);

      expect(await within(service.exited, 15_000, "the service process to give up")).toBe(3);
      expect(service.stdout()).toMatch(/"gave-up":"gave up reconnecting to the hub after 3 attempts/);
      await caller.close();
    });
  },
);

describe("reconnection off and options", () => {
  it("reconnect: false keeps a lost client closed: disconnected (no reconnect), closed, ClosedError", async () => {
    const hub = await inProcessHub("unix");
    const client = await hub.connect(false);
    const disconnected = nextEvent(client, "disconnected");
    const pending = client.call("hub.echo", 1, { waitForService: 10_000, labels: { never: "there" } });
    pending.catch(() => undefined);
    await hub.stop();
    expect((await within(disconnected, 5000, "disconnected")).willReconnect).toBe(false);
    await expect(pending).rejects.toBeInstanceOf(RequestInterruptedError);
    expect(await within(client.closed, 1000, "closed")).toMatchObject({ code: "ECONNECTION_LOST" });
    expect(client.state).toBe("closed");
    await expect(client.call("hub.echo", 1)).rejects.toBeInstanceOf(ClosedError);
    await client.close();
  });

  it("bad reconnect options throw InvalidArgumentError before connecting", async () => {
    const nowhere = join(dir, "nothing-here.sock");
    for (const reconnect of [
      { initialDelay: -1 },
      { maxDelay: Number.NaN },
      { initialDelay: 500, maxDelay: 100 },
      { maxAttempts: 0 },
      { maxAttempts: 1.5 },
      { giveUpAfter: "soon" },
      { retries: 3 },
    ]) {
      const error = await connectUnix(nowhere, { reconnect: reconnect as object }).catch((e: unknown) => e);
      expect(error, JSON.stringify(reconnect)).toBeInstanceOf(InvalidArgumentError);
      expect((error as Error).message).toMatch(/reconnect/);
    }
    await expect(connectHttps("https://127.0.0.1:1", { reconnect: { maxDelay: -5 } })).rejects.toThrow(
      /reconnect\.maxDelay must be a number >= 0, got -5/,
    );
  });

  it("backoff: full jitter below an exponential bound capped at maxDelay", () => {
    const policy = verifyReconnectOptions({ initialDelay: 100, maxDelay: 1000 });
    if (policy === false) throw new Error("unexpected");
    expect([1, 2, 3, 4, 5, 60].map((attempt) => backoffDelay(policy, attempt, () => 0.999999))).toEqual([
      99, 199, 399, 799, 999, 999,
    ]);
    expect(backoffDelay(policy, 7, () => 0)).toBe(0);
    expect(verifyReconnectOptions(undefined)).toBe(RECONNECT_DEFAULTS);
    expect(verifyReconnectOptions(false)).toBe(false);
  });
});

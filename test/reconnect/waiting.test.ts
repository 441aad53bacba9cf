// What a reconnecting client does with requests made while its hub is away, with watches that
// skip existing instances, and with registrations undone or made meanwhile. Hubs in this
// process, replaced on the same socket path (their clients see the connection go); bounded.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import {
  CallAbortedError,
  ClosedError,
  connectUnix,
  Hub,
  listenUnix,
  ReconnectTimeoutError,
  type RemoteHub,
  type RemoteHubEventMap,
  type RemoteWatchEvent,
  type UnixListener,
} from "../../index.js";
import { within } from "./processes.js";

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-reconnect-waiting-"));
});

afterAll(() => rm(dir, { recursive: true, force: true }));

function nextEvent<K extends keyof RemoteHubEventMap>(
  hub: RemoteHub,
  type: K,
): Promise<RemoteHubEventMap[K]> {
  return new Promise((resolve) => hub.addEventListener(type, resolve, { once: true }));
}

/** A hub serving `socket`, replaceable: `stop()` then `start()` is a restart on the same path. */
class LocalHub {
  hub!: Hub;
  #listener: UnixListener | undefined;
  readonly socket = join(dir, `${Math.random().toString(36).slice(2)}.sock`);

  async start(setup: (hub: Hub) => Promise<unknown> = async () => undefined): Promise<void> {
    this.hub = new Hub();
    await setup(this.hub);
    this.#listener = await listenUnix(this.hub, this.socket);
  }

  async stop(): Promise<void> {
    await this.#listener?.close();
    await this.hub.close();
  }
}

async function lose(local: LocalHub, client: RemoteHub): Promise<void> {
  const disconnected = nextEvent(client, "disconnected");
  await local.stop();
  await within(disconnected, 5000, "disconnected");
}

it("a call made while disconnected fails with ReconnectTimeoutError after its own timeout, or on abort", async () => {
  const local = new LocalHub();
  await local.start();
  const client = await connectUnix(local.socket, { reconnect: { initialDelay: 50, maxDelay: 200 } });
  await lose(local, client);
  const timedOut = await client.call("x", null, { timeout: 200 }).catch((error: unknown) => error);
  expect(timedOut).toBeInstanceOf(ReconnectTimeoutError);
  expect(timedOut).toMatchObject({ code: "EDISCONNECTED", waited: 200, operation: 'call "x"' });
  const controller = new AbortController();
  const aborted = client.call("x", null, { signal: controller.signal, timeout: 10_000 });
  controller.abort();
  await expect(aborted).rejects.toBeInstanceOf(CallAbortedError);
  await client.close();
});

it("close() while reconnecting fails what waits with ClosedError and stops dialing", async () => {
  const local = new LocalHub();
  await local.start();
  const client = await connectUnix(local.socket, { reconnect: { initialDelay: 50, maxDelay: 200 } });
  await lose(local, client);
  const waiting = client.list();
  const watch = client.watch();
  await client.close();
  await expect(waiting).rejects.toBeInstanceOf(ClosedError);
  expect(await within(watch.next(), 1000, "the watch to end")).toEqual({ done: true, value: undefined });
  expect(await within(client.closed, 1000, "closed")).toBeUndefined();
  expect(client.state).toBe("closed");
  let reconnected = false;
  client.addEventListener("reconnected", () => (reconnected = true));
  await local.start(); // a hub is back: a closed client must not come back to it
  await new Promise((resolve) => setTimeout(resolve, 500));
  expect(reconnected).toBe(false);
  expect(local.hub.registry.list().length).toBe(0);
  await local.stop();
});

it("a watch with existing: false stays silent at first, then reports the restart's changes as resync", async () => {
  const local = new LocalHub();
  await local.start((hub) => hub.register("cfg", () => 1, { labels: { v: "1" } }));
  const client = await connectUnix(local.socket, { reconnect: { initialDelay: 20, maxDelay: 100 } });
  const watch = client.watch({ existing: false });
  const sentinel = await client.register("sentinel", () => "here");
  const first = (await within(watch.next(), 3000, "the first event")).value as RemoteWatchEvent;
  expect(first).toMatchObject({ type: "added", service: { name: "sentinel" } });
  expect(first.resync).toBeUndefined();

  // Answered after the watch's own opening list (the hub answers in order): the watch has
  // taken in what was there before it.
  await client.list();
  const reconnected = nextEvent(client, "reconnected");
  await lose(local, client);
  await local.start((hub) => hub.register("cfg", () => 2, { labels: { v: "2" } }));
  const back = await within(reconnected, 5000, "reconnected");
  expect(back.registrations.map((entry) => entry.name)).toEqual(["sentinel"]);
  expect(sentinel.info).toEqual(back.registrations[0]!.current);

  // The pre-existing cfg was never reported (existing: false), yet the watch knew it was there:
  // the restarted hub's cfg differs (labels), so it goes and comes, marked resync. The sentinel,
  // registered again with the same id and session, looks unchanged and is not reported.
  const next = async (): Promise<RemoteWatchEvent> =>
    (await within(watch.next(), 3000, "a watch event")).value as RemoteWatchEvent;
  expect(await next()).toEqual({
    type: "removed",
    service: expect.objectContaining({ name: "cfg", labels: { v: "1" } }),
    resync: true,
  });
  expect(await next()).toEqual({
    type: "added",
    service: expect.objectContaining({ name: "cfg", labels: { v: "2" } }),
    resync: true,
  });
  await client.register("later", () => 0);
  const live = await next();
  expect(live).toMatchObject({ type: "added", service: { name: "later" } });
  expect(live.resync).toBeUndefined();
  watch.close();
  await client.close();
  await local.stop();
});

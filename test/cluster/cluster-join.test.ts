// Joining and leaving, when it goes wrong: NATS unreachable, JetStream missing, the registry
// refusing this hub's record half-way through the join. Each fails with a typed ClusterError and
// leaves nothing behind — no NATS connection, timer, subscription or hub session — and the hub
// goes on serving. leave() is idempotent and as clean.
import { afterAll, describe, expect, it } from "vitest";
import { ClusterError, joinCluster } from "../../cluster/index.js";
import { Hub } from "../../index.js";
import { startNatsServer, type SingleNatsServer } from "../helpers/nats-cluster.js";
import { freePorts } from "../helpers/ports.js";

const servers: SingleNatsServer[] = [];

afterAll(async () => {
  await Promise.allSettled(servers.map((server) => server.stop()));
});

/** Sockets and timers of this process, by kind (what a join may leave behind). */
function resources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo())
    if (kind === "TCPSocketWrap" || kind === "Timeout") counts[kind] = (counts[kind] ?? 0) + 1;
  return counts;
}

/** Waits (bounded) until this process holds no more sockets and timers than `before`. */
async function backTo(before: Record<string, number>, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    const now = resources();
    if (Object.entries(now).every(([kind, count]) => count <= (before[kind] ?? 0))) return;
    if (Date.now() > until)
      throw new Error(`left behind: ${JSON.stringify(now)}, before: ${JSON.stringify(before)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The hub still serves calls, and holds only the sessions it had. */
async function stillServes(hub: Hub, sessions: number): Promise<void> {
  expect(hub.sessionsInfo()).toHaveLength(sessions);
  expect(await hub.call("join.echo", "still here", { timeout: 5000 })).toBe("still here");
}

function aHub(): Hub {
  const hub = new Hub();
  hub.session().registerNow("join.echo", (data: unknown) => data);
  return hub;
}

describe("joining a cluster that is not there", () => {
  it("NATS unreachable: ClusterError ECLUSTER naming the servers, nothing left open", async () => {
    const hub = aHub();
    const sessions = hub.sessionsInfo().length;
    const before = resources();
    const [port] = await freePorts(1);
    const joining = joinCluster(hub, { servers: `nats://127.0.0.1:${port}`, name: "join", hub: "j1" });
    const error = await joining.then(
      () => undefined,
      (failure: unknown) => failure,
    );
    expect(error).toBeInstanceOf(ClusterError);
    expect(error).toMatchObject({ code: "ECLUSTER", message: expect.stringContaining(`127.0.0.1:${port}`) });
    expect((error as Error).cause).toBeDefined();
    await backTo(before);
    await stillServes(hub, sessions);
    await hub.close();
  });

  it("JetStream missing: ClusterError at once saying so, nothing left open", async () => {
    const nats = await startNatsServer({ jetstream: false });
    servers.push(nats);
    const hub = aHub();
    const sessions = hub.sessionsInfo().length;
    const before = resources();
    const error = await joinCluster(hub, { servers: nats.url, name: "join", hub: "j2" }).then(
      () => undefined,
      (failure: unknown) => failure,
    );
    expect(error).toBeInstanceOf(ClusterError);
    expect((error as Error).message).toMatch(/JetStream is not enabled/);
    await backTo(before);
    await stillServes(hub, sessions);
    await hub.close();
  }, 12_000);

  it("the registry refusing this hub's record half-way: typed error; no session, timer or subscription left", async () => {
    // This user may do everything but write hub records: the join fails after the links,
    // liveness, mirror and NATS face are up — they must all be taken down again.
    const nats = await startNatsServer({
      extraConfig: `authorization { users = [ { user: "hub", password: "pw", permissions: {
        publish: { allow: [">"], deny: ["$KV.beam_halfway.hub.>"] }, subscribe: ">" } } ] }`,
      connectOptions: { user: "hub", pass: "pw" },
    });
    servers.push(nats);
    const hub = aHub();
    const sessions = hub.sessionsInfo().length;
    const before = resources();
    const error = await joinCluster(hub, {
      servers: nats.url,
      name: "halfway",
      hub: "j3",
      nats: { user: "hub", pass: "pw" },
    }).then(
      () => undefined,
      (failure: unknown) => failure,
    );
    expect(error).toBeInstanceOf(ClusterError);
    expect((error as ClusterError).code).toBe("ECLUSTER");
    await backTo(before);
    await stillServes(hub, sessions);
    await hub.close();
  }, 30_000);
});

describe("leaving", () => {
  it("leave() is idempotent: every call gets the same clean end, and the hub can join again", async () => {
    const nats = await startNatsServer();
    servers.push(nats);
    const hub = aHub();
    const sessions = hub.sessionsInfo().length;
    const before = resources();
    const cluster = await joinCluster(hub, { servers: nats.url, name: "leave", hub: "l1" });
    await cluster.settled();
    expect(hub.sessionsInfo().length).toBeGreaterThan(sessions);
    const first = cluster.leave();
    const second = cluster.leave();
    expect(second).toBe(first);
    await first;
    await cluster.leave();
    expect(cluster.nats.isClosed()).toBe(true);
    await backTo(before);
    await stillServes(hub, sessions);

    const again = await joinCluster(hub, { servers: nats.url, name: "leave", hub: "l1" });
    await again.settled();
    await again.leave();
    await backTo(before);
    await stillServes(hub, sessions);
    await hub.close();
  }, 30_000);
});

// The NATS harness the cluster tests and benches run on (test/helpers/nats-cluster.ts): a real
// 3-node nats-server cluster with JetStream comes up healthy, a 3-replica KV bucket is written on
// one node and read on another, a client rides through a SIGKILLed node (request/reply and KV
// keep working), the node comes back with restart(), and stop() leaves no process or directory.
// Skips, with the reason, only when nats-server is missing and cannot be installed.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Kvm } from "@nats-io/kv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createReplicatedKv,
  NatsHarnessError,
  natsUnavailableReason,
  startNatsCluster,
  startNatsServer,
  type NatsCluster,
} from "../helpers/nats-cluster.js";
import { WATCHDOG } from "../helpers/orphan-reaper.js";

const unavailable = await natsUnavailableReason();
if (unavailable !== undefined) console.warn(`skipping the NATS harness tests: ${unavailable}`);

/** Whether a process with this pid exists (signal 0 only checks). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Runs `attempt` until it resolves, for at most `ms`; then throws its last error, named. */
async function eventually<T>(what: string, attempt: () => Promise<T>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`${what}: still failing after ${ms} ms`, { cause: error });
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return (await response.json()) as T;
}

describe.skipIf(unavailable !== undefined)("a 3-node NATS cluster", () => {
  let cluster: NatsCluster;
  const connections: NatsConnection[] = [];
  const open = async (servers: string | string[]): Promise<NatsConnection> => {
    const nc = await connect({
      servers,
      noRandomize: true,
      reconnectTimeWait: 100,
      maxReconnectAttempts: -1,
      timeout: 5000,
    });
    connections.push(nc);
    return nc;
  };

  beforeAll(async () => {
    cluster = await startNatsCluster();
  });

  afterAll(async () => {
    await Promise.allSettled(connections.map((nc) => nc.close()));
    await cluster?.stop();
  });

  it("comes up routed, with 2 s pings and one JetStream meta leader every node knows", async () => {
    expect(cluster.urls).toHaveLength(3);
    expect(new Set(cluster.urls).size).toBe(3);
    for (const url of cluster.urls) expect(url).toMatch(/^nats:\/\/127\.0\.0\.1:\d+$/);
    const leaders = new Set<string>();
    for (const [i, server] of cluster.servers.entries()) {
      expect(server.url).toBe(cluster.urls[i]);
      expect(alive(server.pid!)).toBe(true);
      const varz = await getJson<{ server_name: string; ping_interval: number; cluster: { name: string } }>(
        `${server.monitorUrl}/varz`,
      );
      expect(varz.server_name).toBe(`n${i + 1}`);
      expect(varz.cluster.name).toBe("beamhub-test");
      expect(varz.ping_interval).toBe(2_000_000_000);
      const routez = await getJson<{ num_routes: number }>(`${server.monitorUrl}/routez`);
      expect(routez.num_routes).toBe(2);
      const jsz = await getJson<{ meta_cluster: { leader: string; cluster_size: number } }>(
        `${server.monitorUrl}/jsz`,
      );
      expect(jsz.meta_cluster.cluster_size).toBe(3);
      leaders.add(jsz.meta_cluster.leader);
    }
    expect(leaders.size).toBe(1);
    expect(["n1", "n2", "n3"]).toContain([...leaders][0]);
  });

  it("keeps a KV bucket on 3 replicas: a put on node 1 is read on node 3", async () => {
    const nc1 = await open(cluster.servers[0]!.url);
    const nc3 = await open(cluster.servers[2]!.url);
    expect(nc1.info?.server_name).toBe("n1");
    expect(nc3.info?.server_name).toBe("n3");
    const kv1 = await createReplicatedKv(nc1, "harness");
    const status = await kv1.status();
    expect(status.streamInfo.config.num_replicas).toBe(3);
    expect(status.streamInfo.cluster?.replicas).toHaveLength(2);
    const revision = await kv1.put("greeting", "hello from n1");
    const kv3 = await new Kvm(nc3).open("harness");
    // A put returns once a quorum (2 of 3) has it; node 3 may be the replica still catching up.
    const entry = await eventually("reading the put on node 3", async () => {
      const found = await kv3.get("greeting");
      if (found === null || found.revision !== revision) throw new Error(`got ${found?.revision}`);
      return found;
    });
    expect(entry.string()).toBe("hello from n1");
  });

  it("after SIGKILL of node 1, a client on all urls still does request/reply and KV; restart() brings node 1 back", async () => {
    const responder = await open(cluster.servers[2]!.url);
    const echo = responder.subscribe("harness.echo", {
      callback: (error, message) => {
        if (error === null) message.respond(`echo ${message.string()}`);
      },
    });
    await responder.flush();
    const client = await open(cluster.urls);
    expect(client.info?.server_name).toBe("n1");
    const kv = await createReplicatedKv(client, "harness");
    await kv.put("before", "1");

    const killed = cluster.servers[0]!;
    const oldPid = killed.pid!;
    await killed.kill("SIGKILL");
    expect(killed.running).toBe(false);
    expect(killed.pid).toBeUndefined();
    expect(alive(oldPid)).toBe(false);
    // The two survivors still make a healthy cluster (JetStream keeps its quorum).
    await cluster.waitHealthy();

    const reply = await eventually("request/reply after the kill", () =>
      client.request("harness.echo", "ping", { timeout: 2000 }),
    );
    expect(reply.string()).toBe("echo ping");
    expect(client.info?.server_name).not.toBe("n1");
    // The bucket's stream may have had its leader on node 1: puts wait for a new one.
    await eventually("a KV put after the kill", () => kv.put("after", "2"));
    expect((await kv.get("before"))?.string()).toBe("1");
    expect((await kv.get("after"))?.string()).toBe("2");

    await killed.restart();
    expect(killed.running).toBe(true);
    expect(killed.pid).not.toBe(oldPid);
    expect(alive(killed.pid!)).toBe(true);
    await cluster.waitHealthy();
    const back = await open(killed.url);
    expect(back.info?.server_name).toBe("n1");
    const kvBack = await new Kvm(back).open("harness");
    // Node 1 kept its store and catches up on what it missed.
    const caughtUp = await eventually("node 1 catching up", async () => {
      const found = await kvBack.get("after");
      if (found === null) throw new Error("not there yet");
      return found;
    });
    expect(caughtUp.string()).toBe("2");
    echo.unsubscribe();
  }, 90_000);

  it("waitHealthy names a node that hangs (SIGSTOP), and passes again once it continues", async () => {
    // A follower, so that the cluster keeps its meta leader. The others may still be reported
    // too (a hung peer can stall their JetStream answers): only the hung one must be.
    const { meta_cluster } = await getJson<{ meta_cluster: { leader: string } }>(
      `${cluster.servers[0]!.monitorUrl}/jsz`,
    );
    const hung = cluster.servers.find((server) => server.name !== meta_cluster.leader)!;
    await hung.kill("SIGSTOP");
    try {
      expect(hung.running).toBe(true);
      const error = await cluster.waitHealthy(1000).then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(NatsHarnessError);
      expect(error).toMatchObject({ code: "NATS_NOT_HEALTHY" });
      expect((error as Error).message).toMatch(
        new RegExp(
          `^NATS cluster not healthy within 1000 ms: .*${hung.name} \\(${hung.url}, pid ${hung.pid}\\): \\S`,
        ),
      );
    } finally {
      await hung.kill("SIGCONT");
    }
    await cluster.waitHealthy();
  }, 60_000);

  it("stop() kills every process it started and removes its temp dir", async () => {
    const pids = cluster.servers.map((server) => server.pid!);
    expect(pids.every(alive)).toBe(true);
    expect(existsSync(cluster.dir)).toBe(true);
    await cluster.stop();
    expect(pids.filter(alive)).toEqual([]);
    expect(cluster.servers.map((server) => server.running)).toEqual([false, false, false]);
    expect(existsSync(cluster.dir)).toBe(false);
    await cluster.stop(); // twice is fine
  });
});

describe.skipIf(unavailable !== undefined)("a 3-node NATS cluster with mutual TLS and a password", () => {
  let cluster: NatsCluster;

  beforeAll(async () => {
    // The harness's own health checks must pass through both: its connectOptions carry them.
    cluster = await startNatsCluster({
      tls: { verifyClients: true },
      extraConfig: 'authorization { user: "tester", password: "s3cret" }',
      connectOptions: { user: "tester", pass: "s3cret" },
    });
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it("requires TLS on client connections and routes, and serves a client with the CA, a certificate and the password", async () => {
    const varz = await getJson<{
      tls_required: boolean;
      tls_verify: boolean;
      cluster: { tls_required: boolean; tls_verify: boolean };
    }>(`${cluster.servers[1]!.monitorUrl}/varz`);
    expect(varz).toMatchObject({
      tls_required: true,
      tls_verify: true,
      cluster: { tls_required: true, tls_verify: true },
    });
    expect(existsSync(cluster.tls!.caFile)).toBe(true);
    const nc = await connect({ ...cluster.connectOptions, timeout: 5000 });
    try {
      const kv = await createReplicatedKv(nc, "tls");
      await kv.put("k", "over TLS");
      expect((await kv.get("k"))?.string()).toBe("over TLS");
    } finally {
      await nc.close();
    }
  });

  it("refuses a client without a certificate, one that does not trust the CA, and one without the password", async () => {
    const { servers, tls } = cluster.connectOptions;
    const attempt = (options: Parameters<typeof connect>[0]) =>
      connect({ servers, reconnect: false, timeout: 5000, ...options });
    // The server refuses a TLS handshake without a client certificate: the client sees the alert
    // (certificate required) or, when the server's close wins the race, a reset (seen in CI).
    const refusedHandshake = /certificate|ECONNRESET/;
    await expect(attempt({ user: "tester", pass: "s3cret", tls: { caFile: tls!.caFile } })).rejects.toThrow(
      refusedHandshake,
    );
    await expect(attempt({ user: "tester", pass: "s3cret" })).rejects.toThrow(refusedHandshake);
    await expect(attempt({ tls })).rejects.toThrow(/Authorization Violation/i);
  });
});

describe.skipIf(unavailable !== undefined)("a single nats-server", () => {
  it("takes max_payload, carries a message above the 1 MiB default, and stop() cleans up", async () => {
    const server = await startNatsServer({ jetstream: false, maxPayload: 4 * 1024 * 1024 });
    try {
      const varz = await getJson<{ max_payload: number; jetstream?: unknown }>(`${server.monitorUrl}/varz`);
      expect(varz.max_payload).toBe(4 * 1024 * 1024);
      const nc = await connect({ servers: server.url });
      try {
        const big = new Uint8Array(3 * 1024 * 1024).fill(42);
        const sub = nc.subscribe("big", { max: 1 });
        nc.publish("big", big);
        let received: Uint8Array | undefined;
        for await (const message of sub) received = message.data;
        // Buffer.equals, not toEqual: a deep compare of 3 Mi elements takes minutes.
        expect(received?.length).toBe(big.length);
        expect(Buffer.from(received!).equals(big)).toBe(true);
      } finally {
        await nc.close();
      }
    } finally {
      const pid = server.pid!;
      await server.stop();
      expect(alive(pid)).toBe(false);
      expect(existsSync(server.dir)).toBe(false);
    }
  });
});

describe("harness options", () => {
  it("refuses options nats-server would refuse, with NATS_BAD_OPTIONS and nothing started", async () => {
    await expect(startNatsCluster({ nodes: 0 })).rejects.toMatchObject({
      name: "NatsHarnessError",
      code: "NATS_BAD_OPTIONS",
      message: expect.stringContaining("nodes must be"),
    });
    await expect(startNatsServer({ maxPayload: 65 * 1024 * 1024 })).rejects.toBeInstanceOf(NatsHarnessError);
    await expect(startNatsCluster({ startTimeoutMs: -1 })).rejects.toMatchObject({
      code: "NATS_BAD_OPTIONS",
      message: expect.stringContaining("startTimeoutMs"),
    });
  });
});

describe("the orphan watchdog", () => {
  /** A `sleep 30` to be reaped (or not), and a watchdog told about it. */
  const setUp = () => {
    const victim = spawn("sleep", ["30"], { stdio: "ignore" });
    const victimExit = new Promise<NodeJS.Signals | null>((resolve) =>
      victim.once("exit", (_code, signal) => resolve(signal)),
    );
    const watchdog = spawn("bash", ["-c", WATCHDOG], { stdio: ["pipe", "ignore", "ignore"] });
    const watchdogExit = new Promise<number | null>((resolve) => watchdog.once("exit", resolve));
    return { victim, victimExit, watchdog, watchdogExit };
  };

  it("SIGKILLs the watched pids and removes the temp dirs when its parent goes away without saying done", async () => {
    const { victim, victimExit, watchdog, watchdogExit } = setUp();
    const dir = await mkdtemp(join(tmpdir(), "beamhub-reaper-test-"));
    await writeFile(join(dir, "left-behind"), "x");
    // End-of-file without "done": what the parent's death looks like.
    watchdog.stdin.end(`+${victim.pid}\n@${dir}\n`);
    expect(await watchdogExit).toBe(0);
    expect(await victimExit).toBe("SIGKILL");
    expect(existsSync(dir)).toBe(false);
  });

  it("leaves alone pids it was told are gone, and everything after done", async () => {
    const forgotten = setUp();
    forgotten.watchdog.stdin.end(`+${forgotten.victim.pid}\n-${forgotten.victim.pid}\n`);
    const finished = setUp();
    const kept = await mkdtemp(join(tmpdir(), "beamhub-reaper-test-"));
    finished.watchdog.stdin.end(`+${finished.victim.pid}\n@${kept}\ndone\n`);
    expect(await forgotten.watchdogExit).toBe(0);
    expect(await finished.watchdogExit).toBe(0);
    expect(forgotten.victim.exitCode).toBeNull();
    expect(forgotten.victim.signalCode).toBeNull();
    expect(finished.victim.exitCode).toBeNull();
    expect(finished.victim.signalCode).toBeNull();
    expect(existsSync(kept)).toBe(true);
    await rm(kept, { recursive: true });
    for (const { victim, victimExit } of [forgotten, finished]) {
      victim.kill("SIGTERM");
      expect(await victimExit).toBe("SIGTERM");
    }
  });
});

// Faults of a cluster as an operator meets them, with real processes: a 3-node NATS cluster
// with JetStream, hub A in this process and hub C a `beamhub serve --cluster` process that is
// killed, frozen and restarted; NATS nodes killed and all restarted.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ByteStream, Channel, connectMemory, Hub, type HubClient } from "../../index.js";
import { joinCluster, type Cluster } from "../../cluster/index.js";
import { connectUnix } from "../../hub/remote/connect-unix.js";
import { startCli, type RunningCli } from "../cli/helpers.js";
import { within } from "../compliance/suite.js";
import { startNatsCluster, type NatsCluster } from "../helpers/nats-cluster.js";

let dir: string;
let nats: NatsCluster;
const hubA = new Hub();
/** What hub A's cluster work reported, shown when a test fails. */
const errorsOfA: string[] = [];
let clusterA: Cluster;
let client: HubClient;
const running: RunningCli[] = [];
/** The hub C that the later tests share (started by the restart test). */
let current: { process: RunningCli; socket: string } | undefined;

/** `beamhub serve` as hub C of the cluster, with its Unix socket in `dir`. */
async function startHubC(): Promise<{ process: RunningCli; socket: string }> {
  const socket = join(dir, `c-${running.length}.sock`);
  const process = await startCli(
    [
      "serve",
      "--listen-https",
      "off",
      "--socket",
      socket,
      "--cluster",
      nats.urls.join(","),
      "--cluster-name",
      "faults",
      "--hub-name",
      "hub-c",
    ],
    /press Ctrl-C/,
  );
  running.push(process);
  expect(process.stderr()).toMatch(/cluster: hub "hub-c" of cluster "faults"/);
  return { process, socket };
}

/** Waits (bounded) until hub A sees `count` instances of `name`. */
async function seen(name: string, count: number, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while ((await hubA.lookup(name)).length !== count) {
    if (Date.now() > until)
      throw new Error(
        `hub A did not see ${count} of "${name}" within ${ms} ms; hub A knows ${JSON.stringify(clusterA.hubs())}; ` +
          `hub C said: ${current?.process.stderr().slice(-3000) ?? "(not running)"}; hub A's errors: ${errorsOfA.slice(-10).join(" | ")}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-cluster-faults-"));
  nats = await startNatsCluster({ nodes: 3 });
  clusterA = await joinCluster(hubA, {
    servers: nats.urls,
    name: "faults",
    hub: "hub-a",
    onError: (error) => errorsOfA.push(String(error)),
  });
  client = connectMemory(hubA);
}, 60_000);

afterAll(async () => {
  await client?.close();
  await clusterA?.leave();
  await hubA.close();
  await Promise.allSettled(running.map((process) => process.stop()));
  await nats?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("a cluster under faults", () => {
  it("kill -9 of a hub: work in flight on it fails typed at once, and its services are forgotten", async () => {
    const { process, socket } = await startHubC();
    const service = await connectUnix(socket, { reconnect: false });
    await service.register("faults.hang", () => new Promise(() => undefined));
    await service.register("faults.sink", async ({ stream }: { stream: ByteStream }) => {
      for await (const chunk of stream.readable) void chunk;
    });
    await service.register("faults.channel", ({ channel }: { channel: Channel }) => {
      // Left hanging: the kill must end it on both sides.
      channel.request("hello", { timeout: 60_000 }).catch(() => undefined);
      return "kept";
    });
    await seen("faults.channel", 1);
    expect((await hubA.lookup("faults.hang"))[0]!.labels).toMatchObject({ "beamhub/hub": "hub-c" });

    const hanging = client.call("faults.hang", null, { timeout: 60_000 });
    const [mine, theirs] = ByteStream.pair();
    const sinking = client.call("faults.sink", { stream: theirs }, { timeout: 60_000 });
    const writer = mine.writable.getWriter();
    await writer.write(new Uint8Array(64 * 1024));
    const [local, remote] = Channel.pair();
    const asked = new Promise<void>((resolve) =>
      local.handle(() => (resolve(), new Promise(() => undefined))),
    );
    expect(await client.call("faults.channel", { channel: remote }, { timeout: 10_000 })).toBe("kept");
    await within(asked, 5000, "the service's request on the channel");
    const channelClosed = local.closed;

    const killedAt = Date.now();
    process.child.kill("SIGKILL");
    const failures = await within(
      Promise.allSettled([hanging, sinking]),
      3000,
      "the calls in flight on the killed hub to fail",
    );
    const failedAfter = Date.now() - killedAt;
    for (const failure of failures) {
      expect(failure.status).toBe("rejected");
      const code = ((failure as PromiseRejectedResult).reason as { code?: string }).code;
      expect(["ELINK_RESET", "ESERVICE_GONE", "ECONNECTION_LOST"]).toContain(code);
    }
    await within(channelClosed, 3000, "the channel to the killed hub to close");
    await seen("faults.hang", 0, 8000);
    console.log(
      `kill -9: calls failed after ${failedAfter} ms; services gone after ${Date.now() - killedAt} ms`,
    );
    await service.close();
  }, 40_000);

  it("a restarted hub comes back; a frozen one times calls out, and is back after SIGCONT", async () => {
    current = await startHubC();
    const { process, socket } = current;
    const service = await connectUnix(socket, { reconnect: false });
    await service.register("faults.echo", (data: unknown) => data);
    await seen("faults.echo", 1);
    expect(await client.call("faults.echo", "before", { timeout: 5000 })).toBe("before");

    process.child.kill("SIGSTOP");
    try {
      await expect(client.call("faults.echo", "frozen", { timeout: 1500 })).rejects.toMatchObject({
        code: "ETIMEOUT",
      });
      await new Promise((resolve) => setTimeout(resolve, 2000));
    } finally {
      process.child.kill("SIGCONT");
    }
    // Judged dead while frozen, or not: either way its service is callable again.
    expect(
      await within(
        client.call("faults.echo", "after", { timeout: 10_000, waitForService: 10_000 }),
        12_000,
        "a call to the thawed hub",
      ),
    ).toBe("after");
    await service.close();
  }, 40_000);

  it("a NATS node dies: the hub on it reconnects, nothing is lost, calls go on", async () => {
    const { socket } = current ?? (current = await startHubC());
    const service = await connectUnix(socket, { reconnect: false });
    await service.register("faults.node", (data: unknown) => data);
    await seen("faults.node", 1);
    const local = await client.register("faults.local", () => "from a");
    await clusterA.settled();

    const serverName = clusterA.nats.info?.server_name;
    const victim = nats.servers.find((server) => server.name === serverName) ?? nats.servers[0]!;
    await victim.kill("SIGKILL");
    try {
      expect(
        await within(
          retry(() => client.call("faults.node", "through", { timeout: 2000 })),
          15_000,
          "a call after the NATS node died",
        ),
      ).toBe("through");
      expect(
        await within(
          retry(() => service.call("faults.local", null, { timeout: 2000 })),
          15_000,
          "a call the other way",
        ),
      ).toBe("from a");
      expect(await hubA.lookup("faults.node")).toHaveLength(1);
    } finally {
      await victim.restart();
    }
    await local.unregister();
    await service.close();
  }, 60_000);

  it("all NATS nodes restart: the registry survives and the hubs find each other again", async () => {
    const { socket } = current ?? (current = await startHubC());
    const service = await connectUnix(socket, { reconnect: false });
    await service.register("faults.restart", (data: unknown) => data);
    await seen("faults.restart", 1);
    await Promise.all(nats.servers.map((server) => server.kill("SIGTERM")));
    await Promise.all(nats.servers.map((server) => server.restart()));
    await nats.waitHealthy(30_000);
    expect(
      await within(
        retry(() => client.call("faults.restart", "again", { timeout: 2000 })),
        20_000,
        "a call after NATS restarted",
      ),
    ).toBe("again");
    expect(await hubA.lookup("faults.restart")).toHaveLength(1);
    await service.close();
  }, 90_000);
});

/** `attempt` until it succeeds: the first calls after a NATS failure may land on a dead link. */
async function retry<T>(attempt: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      return await attempt();
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

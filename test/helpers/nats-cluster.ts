// A real NATS cluster for tests and benches (cluster-design.md §8): N nats-server processes on
// free loopback ports, fully routed to each other, with JetStream, each in a directory under one
// temp dir. `stop()` kills exactly the processes it started and removes the temp dir; should the
// test process die first, a watchdog (orphan-reaper.ts) kills them.
//
//   const cluster = await startNatsCluster();           // 3 nodes, JetStream, healthy
//   const nc = await connect({ servers: cluster.urls });
//   const kv = await createReplicatedKv(nc, "links");   // replicas: 3, retried through elections
//   await cluster.servers[0]!.kill("SIGKILL");  ...  await cluster.servers[0]!.restart();
//   await cluster.stop();
//
// Tests skip when nats-server is missing and cannot be installed: see natsUnavailableReason().
import { request } from "node:http";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { OrphanReaper } from "./orphan-reaper.js";
import { freePorts } from "./ports.js";
import {
  checkNatsOptions,
  installNatsServer,
  NatsHarnessError,
  NatsNodeProcess,
  natsServerPath,
  sleep,
  type NatsServer,
  type NatsServerOptions,
} from "./nats-server.js";

export {
  installNatsServer,
  NatsHarnessError,
  startNatsServer,
  type NatsHarnessErrorCode,
  type NatsServer,
  type NatsServerOptions,
  type SingleNatsServer,
} from "./nats-server.js";
export { createReplicatedKv, type ReplicatedKvOptions } from "./nats-kv.js";

/** Options of {@link startNatsCluster}. */
export interface NatsClusterOptions extends NatsServerOptions {
  /** How many nodes. Default 3 (the smallest cluster that keeps a JetStream quorum after a loss). */
  nodes?: number;
  /** The `cluster { name }`. Default "beamhub-test". */
  name?: string;
  /** Waits for {@link NatsCluster.waitHealthy} before resolving. Default true. */
  waitHealthy?: boolean;
  /** The time limit of that first wait. Default 30 s. */
  healthyTimeoutMs?: number;
}

/** A running cluster. */
export interface NatsCluster {
  /** `nats://127.0.0.1:<port>` of every node, in node order (n1, n2, ...). */
  readonly urls: string[];
  /** The nodes, n1 first. */
  readonly servers: NatsServer[];
  /** The temp directory holding every node's config and JetStream store. */
  readonly dir: string;
  /**
   * Resolves once every running node answers its monitoring `/healthz` (JetStream enabled), is
   * routed to every other running node and knows a JetStream meta leader, and `$JS.API.INFO`
   * answers through a client connection to each. Nodes that are not running (killed, stopped)
   * are left out; a SIGSTOPped node counts as running, so it fails the check. Throws
   * NATS_NOT_HEALTHY naming each node that was not ready, and why, after `timeoutMs` (default 30 s).
   */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** SIGKILLs every process it started and removes {@link dir}. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * The reason NATS tests must skip here (nats-server is missing and cannot be installed), or
 * undefined when nats-server is available (installing it first if needed).
 */
export async function natsUnavailableReason(): Promise<string | undefined> {
  const installed = await installNatsServer();
  return installed.path === undefined ? `nats-server is not available: ${installed.reason}` : undefined;
}

/**
 * Starts a cluster of `nodes` nats-servers (default 3, JetStream on) on free loopback ports and,
 * unless `waitHealthy: false`, waits until it is healthy. Throws NATS_UNAVAILABLE when
 * nats-server is missing and cannot be installed, NATS_START_FAILED or NATS_NOT_HEALTHY (after
 * stopping whatever it started) when the cluster does not come up.
 */
export async function startNatsCluster(options: NatsClusterOptions = {}): Promise<NatsCluster> {
  const nodes = options.nodes ?? 3;
  if (!Number.isSafeInteger(nodes) || nodes < 1 || nodes > 32) {
    throw new NatsHarnessError("NATS_BAD_OPTIONS", `nodes must be a whole number from 1 to 32, got ${nodes}`);
  }
  checkNatsOptions(options);
  const binary = await natsServerPath();
  // Ports are chosen before any node binds them; another process may take one in between. Then
  // the whole cluster starts again on new ports (each node's routes name the others' ports).
  for (let attempt = 1; ; attempt++) {
    const cluster = await ClusterProcesses.create(binary, nodes, options);
    try {
      await Promise.all(cluster.servers.map((server) => server.start()));
      if (options.waitHealthy ?? true) await cluster.waitHealthy(options.healthyTimeoutMs ?? 30_000);
      return cluster;
    } catch (error) {
      const retry = attempt < 3 && cluster.servers.some((server) => server.portWasTaken());
      await cluster.stop();
      if (!retry) throw error;
    }
  }
}

class ClusterProcesses implements NatsCluster {
  readonly #reaper: OrphanReaper;
  readonly #jetstream: boolean;
  #stopped = false;

  private constructor(
    readonly servers: NatsNodeProcess[],
    readonly dir: string,
    reaper: OrphanReaper,
    jetstream: boolean,
  ) {
    this.#reaper = reaper;
    this.#jetstream = jetstream;
  }

  static async create(binary: string, nodes: number, options: NatsClusterOptions): Promise<ClusterProcesses> {
    const dir = await mkdtemp(join(tmpdir(), "beamhub-nats-cluster-"));
    const ports = await freePorts(nodes * 3);
    const routePorts = ports.slice(nodes * 2);
    const reaper = new OrphanReaper();
    const servers = Array.from({ length: nodes }, (_, i) => {
      const name = `n${i + 1}`;
      const layout = {
        name,
        clientPort: ports[i]!,
        monitorPort: ports[nodes + i]!,
        ...(nodes > 1
          ? {
              routePort: routePorts[i]!,
              cluster: {
                name: options.name ?? "beamhub-test",
                peerRoutePorts: routePorts.filter((_, j) => j !== i),
              },
            }
          : {}),
      };
      return new NatsNodeProcess(binary, layout, join(dir, name), options, reaper);
    });
    return new ClusterProcesses(servers, dir, reaper, options.jetstream ?? true);
  }

  get urls(): string[] {
    return this.servers.map((server) => server.url);
  }

  async waitHealthy(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const running = this.servers.filter((server) => server.running);
    const reasons = new Map<string, string>();
    await Promise.all(
      running.map(async (server) => {
        for (;;) {
          const reason = await this.#notReady(server, running.length);
          if (reason === undefined) {
            reasons.delete(server.name);
            return;
          }
          reasons.set(server.name, reason);
          if (Date.now() > deadline || !server.running) return;
          await sleep(100);
        }
      }),
    );
    for (const server of running) {
      if (!server.running) reasons.set(server.name, "its process exited");
    }
    if (reasons.size > 0) {
      const which = [...reasons].map(([name, reason]) => {
        const server = this.servers.find((candidate) => candidate.name === name)!;
        return `${name} (${server.url}, pid ${server.pid ?? "gone"}): ${reason}`;
      });
      throw new NatsHarnessError(
        "NATS_NOT_HEALTHY",
        `NATS cluster not healthy within ${timeoutMs} ms: ${which.join("; ")}`,
      );
    }
  }

  /** Why `server` is not ready yet, or undefined when it is. */
  async #notReady(server: NatsNodeProcess, peers: number): Promise<string | undefined> {
    try {
      const healthz = await getJson(
        `${server.monitorUrl}/healthz${this.#jetstream ? "?js-enabled-only=true" : ""}`,
      );
      if (healthz.status !== 200)
        return `/healthz answered ${healthz.status} ${JSON.stringify(healthz.body)}`;
      if (peers > 1) {
        const routez = await getJson(`${server.monitorUrl}/routez`);
        const routes = (routez.body as { num_routes?: number }).num_routes ?? 0;
        if (routes < peers - 1) return `/routez shows ${routes} routes of ${peers - 1}`;
      }
      if (!this.#jetstream) return undefined;
      if (peers > 1) {
        const jsz = await getJson(`${server.monitorUrl}/jsz`);
        const leader = (jsz.body as { meta_cluster?: { leader?: string } }).meta_cluster?.leader;
        if (!leader) return "/jsz shows no JetStream meta leader yet";
      }
      return await jetStreamInfoError(server.url);
    } catch (error) {
      return `monitoring did not answer: ${(error as Error).message}`;
    }
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await Promise.all(this.servers.map((server) => server.kill("SIGKILL")));
    this.#reaper.close();
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Why `$JS.API.INFO` fails through a fresh client connection to `url`, or undefined if it works. */
async function jetStreamInfoError(url: string): Promise<string | undefined> {
  let nc;
  try {
    nc = await connect({ servers: url, reconnect: false, timeout: 2000 });
  } catch (error) {
    return `a client could not connect: ${(error as Error).message}`;
  }
  try {
    const reply = await nc.request("$JS.API.INFO", undefined, { timeout: 2000 });
    const info = reply.json<{ error?: { code?: number; err_code?: number; description?: string } }>();
    if (info.error !== undefined) {
      return `$JS.API.INFO answered ${info.error.code}/${info.error.err_code} ${info.error.description}`;
    }
    return undefined;
  } catch (error) {
    return `$JS.API.INFO failed: ${(error as Error).message}`;
  } finally {
    await nc.close();
  }
}

/** GETs a monitoring endpoint (no keep-alive: nothing stays open): status and parsed JSON body. */
function getJson(url: string, timeoutMs = 2000): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("error", reject);
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString();
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // Not JSON: keep the text for the error message.
        }
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    req.on("timeout", () => req.destroy(new Error(`${url} did not answer within ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end();
  });
}

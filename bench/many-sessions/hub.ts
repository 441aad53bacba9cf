/**
 * The hub process of bench/many-sessions*.ts, one process of its own (run with --expose-gc). It
 * answers the coordinator's requests on its IPC channel, one at a time:
 * - `listen {path, index, cluster?}`: serves `echo.<index>` (a synchronous echo) and listens on the
 *   Unix socket `path`; with `cluster {url, name}` it first joins that NATS cluster as
 *   `hub-<index>`, so calls from other hubs' sessions reach it over a link;
 * - `waitFor {service, timeoutMs}`: resolves once the hub knows an instance of `service` (another
 *   hub's, in a cluster);
 * - `sample`: the process's CPU time so far (user + system, µs), the calls its service answered,
 *   the GC pauses so far (ms), and the event-loop delay since the previous sample (p50, p99, max in ms; from
 *   `monitorEventLoopDelay`, which wakes every 10 ms);
 * - `memory`: rss and heapUsed + arrayBuffers after full GCs.
 * @module
 */
import { monitorEventLoopDelay, PerformanceObserver } from "node:perf_hooks";
import { joinCluster, type Cluster } from "../../cluster/index.js";
import { Hub, listenUnix, type UnixListener } from "../../index.js";

type Request =
  | { op: "listen"; path: string; index: number; cluster?: { url: string; name: string } }
  | { op: "waitFor"; service: string; timeoutMs: number }
  | { op: "sample" }
  | { op: "memory" }
  | "stop";

const hub = new Hub();
let listener: UnixListener | undefined;
let cluster: Cluster | undefined;
let calls = 0;
const lag = monitorEventLoopDelay({ resolution: 10 });
lag.enable();
// GC pauses, summed: the share of the hub's CPU that grows with the live objects of many sessions.
let gcMs = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) gcMs += entry.duration;
}).observe({ entryTypes: ["gc"] });

/**
 * Joins the cluster, trying again (5 times, 2 s apart) when it fails. WHY: on this loaded VM a
 * node that passed the health check sometimes still answers "jetstream is not enabled" for a
 * moment after its start.
 */
async function joinWithRetries(url: string, name: string, index: number): Promise<Cluster> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await joinCluster(hub, { servers: url, name, hub: `hub-${index}` });
    } catch (error) {
      if (attempt === 5) throw error;
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  }
}

const ms = (nanoseconds: number): number => nanoseconds / 1e6;

async function handle(request: Request): Promise<unknown> {
  if (request === "stop") {
    await listener?.close();
    await cluster?.leave();
    await hub.close();
    process.exit(0);
  }
  switch (request.op) {
    case "listen": {
      await hub.register(`echo.${request.index}`, (data: unknown) => {
        calls += 1;
        return data;
      });
      if (request.cluster !== undefined) {
        cluster = await joinWithRetries(request.cluster.url, request.cluster.name, request.index);
        await cluster.settled();
      }
      // Well above the bench's sessions: the default caps (1,024 in all) would refuse some.
      // keepAlive as in clients.ts: a process of this loaded VM is sometimes not scheduled for seconds.
      listener = await listenUnix(hub, request.path, {
        maxConnections: 8192,
        maxConnectionsPerUid: 8192,
        keepAlive: Number(process.env.BENCH_KEEP_ALIVE ?? 30_000),
      });
      return { pid: process.pid };
    }
    case "waitFor": {
      const until = performance.now() + request.timeoutMs;
      while (hub.instancesInfo().every((instance) => instance.name !== request.service)) {
        if (performance.now() > until)
          throw new Error(`no instance of ${request.service} after ${request.timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return {};
    }
    case "sample": {
      const { user, system } = process.cpuUsage();
      const answer = {
        cpuMicros: user + system,
        calls,
        gcMs,
        lagP50: ms(lag.percentile(50)),
        lagP99: ms(lag.percentile(99)),
        lagMax: ms(lag.max),
      };
      lag.reset();
      return answer;
    }
    case "memory": {
      for (let i = 0; i < 3; i++) (globalThis as { gc?: () => void }).gc?.();
      const { rss, heapUsed, arrayBuffers } = process.memoryUsage();
      return { rss, heap: heapUsed + arrayBuffers };
    }
  }
}

process.on("message", (request: Request) => {
  handle(request).then(
    (answer) => process.send!({ answer }),
    (error: Error) => process.send!({ error: error.message }),
  );
});

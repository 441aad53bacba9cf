/**
 * One hub of bench/cluster-scale.ts, a process of its own (run with --expose-gc). It answers the
 * coordinator's requests on its IPC channel, one at a time:
 * - `join {url, index}`: joins the cluster as `hub-<index>` through NATS node `url`, with a raw
 *   nats.js connection beside it (hub 2 also serves `echo` and a raw responder `raw.echo`);
 * - `register {count, total}`: registers services until it hosts `count` of its own, then waits
 *   until its hub holds `total` instances (its own plus stand-ins of the others'), answering the
 *   milliseconds each part took;
 * - `calls {inFlight, count}`: the rate of calls to `echo` and of raw requests to `raw.echo`;
 * - `memory`: heapUsed and rss after a full GC.
 * @module
 */
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { joinCluster, type Cluster } from "../../cluster/index.js";
import { Hub } from "../../index.js";
import { pipelined } from "../harness.js";

type Request =
  | { op: "join"; url: string; index: number }
  | { op: "register"; count: number; total: number; timeoutMs: number }
  | { op: "calls"; inFlight: number; count: number }
  | { op: "memory" }
  | "stop";

const hub = new Hub();
let cluster: Cluster | undefined;
let nc: NatsConnection | undefined;
let index = 0;
let own = 0;
const payload = { user: "ada", items: [1, 2, 3], note: "x".repeat(100) };
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The bench's instances this hub holds: its own and stand-ins of the other hubs'. */
function servicesSeen(): number {
  return hub
    .instancesInfo()
    .filter((instance) => instance.name === "echo" || instance.name.startsWith("svc.")).length;
}

/** heapUsed and rss after a full GC (--expose-gc), in bytes. */
function memory(): { heapUsed: number; rss: number } {
  (globalThis as { gc?: () => void }).gc?.();
  const { heapUsed, rss } = process.memoryUsage();
  return { heapUsed, rss };
}

async function handle(request: Request): Promise<unknown> {
  if (request === "stop") {
    await nc?.drain();
    await cluster?.leave();
    await hub.close();
    process.exit(0);
  }
  switch (request.op) {
    case "join": {
      index = request.index;
      nc = await connect({ servers: request.url, noAsyncTraces: true });
      if (index === 2) {
        await hub.register("echo", (data: unknown) => data);
        own = 1;
        nc.subscribe("raw.echo", {
          callback: (error, message) => {
            if (error === null)
              message.respond(encoder.encode(JSON.stringify(JSON.parse(decoder.decode(message.data)))));
          },
        });
      }
      cluster = await joinCluster(hub, { servers: request.url, name: "scale", hub: `hub-${index}` });
      await cluster.settled();
      return memory();
    }
    case "register": {
      const started = performance.now();
      const handler = (data: unknown) => data;
      const registering: Promise<unknown>[] = [];
      for (; own < request.count; own++) registering.push(hub.register(`svc.${index}.${own}`, handler));
      await Promise.all(registering);
      await cluster!.settled();
      const registered = performance.now() - started;
      const until = performance.now() + request.timeoutMs;
      let seen = servicesSeen();
      while (seen < request.total) {
        if (performance.now() > until)
          throw new Error(
            `hub-${index} saw ${seen} of ${request.total} instances after ${request.timeoutMs} ms`,
          );
        await new Promise((resolve) => setTimeout(resolve, 20));
        seen = servicesSeen();
      }
      return { registeredMs: registered, convergedMs: performance.now() - started, seen };
    }
    case "calls": {
      const rate = async (operation: () => Promise<unknown>) => {
        const started = performance.now();
        await pipelined(request.count, request.inFlight, operation);
        return request.count / ((performance.now() - started) / 1000);
      };
      const raw = async () =>
        JSON.parse(
          decoder.decode(
            (await nc!.request("raw.echo", encoder.encode(JSON.stringify(payload)), { timeout: 30_000 }))
              .data,
          ),
        ) as unknown;
      return { beamhub: await rate(() => hub.call("echo", payload)), raw: await rate(raw) };
    }
    case "memory":
      return memory();
  }
}

process.on("message", (request: Request) => {
  handle(request).then(
    (answer) => process.send!({ answer }),
    (error: Error) => process.send!({ error: error.message }),
  );
});

/**
 * The service side of bench/cluster.ts, a process of its own (forked by it): hub C joined to the
 * cluster through its own NATS node, with `echo` and `drain`; a raw nats.js responder and sink on
 * the same node; a Moleculer broker with `bench.echo` over the same NATS. Told the NATS URL on
 * its IPC channel; answers "ready", and leaves on "stop".
 * @module
 */
import { connect } from "@nats-io/transport-node";
import { joinCluster } from "../../cluster/index.js";
import type { ByteStream } from "../../index.js";
import { Hub } from "../../index.js";
import { moleculerBroker } from "./moleculer-nats.js";

const { url } = await new Promise<{ url: string }>((resolve) =>
  process.once("message", (message) => resolve(message as { url: string })),
);

const hub = new Hub();
await hub.register("echo", (data: unknown) => data);
await hub.register("drain", async ({ stream }: { stream: ByteStream }) => {
  let bytes = 0;
  for await (const chunk of stream.readable) bytes += chunk.byteLength;
  return bytes;
});
const cluster = await joinCluster(hub, { servers: url, name: "bench", hub: "hub-c" });
await cluster.settled();

// Raw nats.js: a responder that decodes and encodes its JSON as an application would, and a sink
// that counts bytes until an empty message with a reply subject asks for the count.
const nc = await connect({ servers: url, noAsyncTraces: true });
const encoder = new TextEncoder();
const decoder = new TextDecoder();
nc.subscribe("raw.echo", {
  callback: (error, message) => {
    if (error === null)
      message.respond(encoder.encode(JSON.stringify(JSON.parse(decoder.decode(message.data)))));
  },
});
let sunk = 0;
nc.subscribe("raw.sink", {
  callback: (error, message) => {
    if (error !== null) return;
    if (message.data.byteLength > 0) sunk += message.data.byteLength;
    else {
      message.respond(encoder.encode(String(sunk)));
      sunk = 0;
    }
  },
});
await nc.flush();

const broker = moleculerBroker("service-side", url);
broker.createService({ name: "bench", actions: { echo: (context) => context.params } });
await broker.start();

process.send!({ ready: true });
process.once("message", () => {
  void (async () => {
    await broker.stop();
    await nc.drain();
    await cluster.leave();
    await hub.close();
    process.exit(0);
  })();
});

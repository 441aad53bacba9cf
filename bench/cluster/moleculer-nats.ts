/**
 * Moleculer 0.14's own NATS transporter, run over the nats.js installed here. Its "NATS v2" code
 * path calls only `connect`, `status()`, `closed()`, `subscribe(subject, { queue, callback })`,
 * `publish`, `flush` and `close` — the same core API in nats.js v3 (@nats-io/transport-node, the
 * successor of the `nats` v2 package). `nats` v2 itself is not installed, so `require("nats")`
 * from inside Moleculer resolves to @nats-io/transport-node; nothing else of Moleculer changes.
 * @module
 */
import { createRequire } from "node:module";
import Module from "node:module";
import { ServiceBroker } from "moleculer";

const require = createRequire(import.meta.url);
const natsJs = require.resolve("@nats-io/transport-node");
type Resolve = (request: string, ...rest: unknown[]) => string;
const modules = Module as unknown as { _resolveFilename: Resolve };
const original = modules._resolveFilename;
modules._resolveFilename = function (request: string, ...rest: unknown[]): string {
  return original.call(this, request === "nats" ? natsJs : request, ...rest);
};

/** A Moleculer broker on NATS at `url` (JSON serializer, no logging: as in Moleculer's own bench). */
export function moleculerBroker(nodeID: string, url: string): ServiceBroker {
  return new ServiceBroker({ nodeID, transporter: url, logger: false });
}

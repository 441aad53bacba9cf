// Child process of bench/gateway.ts: the database host's side — a hub that exposes PostgreSQL
// (in its own process, as `beamhub serve` + `beamhub expose` on one machine would) and listens
// on a Unix socket and on https:// (loopback, development certificate in DIR/cert). Prints
// "ready <https url>" and serves until stdin closes.
import { join } from "node:path";
import { exposeTcp } from "../gateway/index.js";
import { Hub, listenHttps, listenUnix } from "../index.js";

const [dir, target] = process.argv.slice(2);
if (dir === undefined || target === undefined)
  throw new Error("usage: gateway-hub-peer.ts DIR tcp://HOST:PORT");
const hub = new Hub();
const unix = await listenUnix(hub, join(dir, "hub.sock"));
const https = await listenHttps(hub, { port: 0, certDir: join(dir, "cert") });
const exposure = await exposeTcp(hub, "pg", target, { log: (line) => process.stderr.write(`${line}\n`) });
process.stdout.write(`ready ${https.url}\n`);
process.stdin.on("end", () => {
  void (async () => {
    await exposure.close();
    await https.close();
    await unix.close();
    await hub.close();
    process.exit(0);
  })();
});
process.stdin.resume();

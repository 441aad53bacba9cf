/**
 * The compliance suite's peer process for the HTTPS transports: connects to the hub at argv[2]
 * over argv[4] ("http2" or "websocket"), trusting the certificate in the file argv[3],
 * registers the fixture services and serves them until its stdin closes or it is killed.
 */
import { readFileSync } from "node:fs";
import { connectHttps } from "../../index.js";
import { registerFixtureServices } from "./services.js";

const [url, certPath, transport] = process.argv.slice(2) as [string, string, "http2" | "websocket"];
const hub = await connectHttps(url, { ca: readFileSync(certPath), transport });
await registerFixtureServices(hub);
process.stdin.resume();
process.stdin.on("end", () => {
  void hub.close().then(() => process.exit(0));
});
void hub.connection.closed.then(() => process.exit(0));

/**
 * The compliance suite's peer process for the runs through `connect(url)`: connects to the hub
 * at argv[2] (trusting the certificate in the file argv[3], if given), registers the fixture
 * services and serves them until its stdin closes or it loses the hub.
 */
import { readFileSync } from "node:fs";
import { connect } from "../../index.js";
import { registerFixtureServices } from "./services.js";

const [url, certPath] = process.argv.slice(2) as [string, string | undefined];
const hub = await connect(url, {
  reconnect: false,
  ...(certPath === undefined ? {} : { ca: readFileSync(certPath) }),
});
await registerFixtureServices(hub);
process.stdin.resume();
process.stdin.on("end", () => {
  void hub.close().then(() => process.exit(0));
});
void hub.closed.then(() => process.exit(0));

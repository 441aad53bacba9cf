/**
 * The compliance suite's peer process for the Unix transport: connects to the hub at argv[2],
 * registers the fixture services and serves them until its stdin closes (the test ends) or it
 * is killed.
 */
import { connectUnix } from "../../hub/remote/unix.js";
import { registerFixtureServices } from "./services.js";

const hub = await connectUnix(process.argv[2]!);
await registerFixtureServices(hub);
process.stdin.resume();
process.stdin.on("end", () => {
  void hub.close().then(() => process.exit(0));
});
void hub.connection.closed.then(() => process.exit(0));

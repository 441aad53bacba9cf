/**
 * A peer process for the tracing tests. `service <socket>`: installs an OpenTelemetry SDK,
 * connects to the hub at <socket> and serves `front`, which calls `back` through the hub; when
 * stdin ends it prints its finished spans as one JSON line and exits. `hub <socket>`: a hub
 * with NO SDK listening on <socket> (it must pass trace context on untouched), until stdin ends.
 * Prints "ready" once serving.
 */
import { connectUnix, Hub, listenUnix } from "../../index.js";
import { installSdk } from "./tracing-sdk.js";

const [role, socket] = process.argv.slice(2);
const stdinEnded = new Promise((resolve) => {
  process.stdin.resume();
  process.stdin.once("end", resolve);
});

if (role === "service") {
  const sdk = installSdk();
  const hub = await connectUnix(socket!, { timeoutMs: 5000 });
  await hub.register("front", async (data: string) => `front(${await hub.call<string>("back", data)})`);
  process.stdout.write("ready\n");
  await stdinEnded;
  await hub.close();
  process.stdout.write(`${JSON.stringify(sdk.spans())}\n`);
  await sdk.uninstall();
} else {
  const hub = new Hub();
  const listener = await listenUnix(hub, socket!);
  process.stdout.write("ready\n");
  await stdinEnded;
  await listener.close();
  await hub.close();
}

// Child process of the gateway tests: connects to the test's hub over Unix, exposes a TCP
// target, prints "ready <pid>" and serves until stdin closes or it gets SIGTERM.
import { connectUnix } from "../../index.js";
import { exposeTcp } from "../../gateway/index.js";

const [socketPath, name, target] = process.argv.slice(2);
if (socketPath === undefined || name === undefined || target === undefined) {
  throw new Error("usage: expose-peer.ts SOCKET NAME tcp://HOST:PORT");
}
const hub = await connectUnix(socketPath);
const exposure = await exposeTcp(hub, name, target, { log: (line) => process.stderr.write(`${line}\n`) });
process.stdout.write(`ready ${process.pid}\n`);

const stop = async (): Promise<void> => {
  await exposure.close();
  await hub.close();
  process.exit(0);
};
process.stdin.on("end", () => void stop());
process.stdin.resume();
process.on("SIGTERM", () => void stop());

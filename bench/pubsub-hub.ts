// A hub of its own process for bench/pubsub.ts's A/B of two source trees: the hub side of each
// tree runs alone in a process, so the hub's CPU per delivery is that process's CPU time (two
// trees cannot share one process over the wire: the codec's extensions are registered once
// per process). Usage: npx tsx bench/pubsub-hub.ts TREE SOCKET
// Reads commands on stdin, answers on stdout:
//   "publish CHANNEL K"  publishes K messages of 64 B in the hub, one after another; "published"
//   "cpu"                "cpu µs": the CPU time (user + system) this process used so far
//   "quit"               closes the listener and the hub, and exits
import { join } from "node:path";
import { createInterface } from "node:readline";

interface TreeHub {
  publish(channel: string, data: unknown): Promise<unknown>;
  close(): Promise<void>;
}

const [tree, socketPath] = process.argv.slice(2);
if (tree === undefined || socketPath === undefined) throw new Error("usage: pubsub-hub.ts TREE SOCKET");
const { Hub, listenUnix } = (await import(join(tree, "index.ts"))) as {
  Hub: new () => TreeHub;
  listenUnix(hub: TreeHub, path: string, options: object): Promise<{ close(): Promise<void> }>;
};
const PAYLOAD = new Uint8Array(64).fill(7);
const hub = new Hub();
// A keep-alive of 30 s, as bench/pubsub.ts's own hub (a starved subscriber process keeps its sessions).
const listener = await listenUnix(hub, socketPath, { maxConnectionsPerUid: 1000, keepAlive: 30_000 });
process.stdout.write("ready\n");
for await (const line of createInterface({ input: process.stdin })) {
  const [command, channel, count] = line.split(" ");
  if (command === "publish") {
    for (let i = 0; i < Number(count); i++) await hub.publish(channel!, PAYLOAD);
    process.stdout.write("published\n");
  } else if (command === "cpu") {
    const { user, system } = process.cpuUsage();
    process.stdout.write(`cpu ${user + system}\n`);
  } else if (command === "quit") break;
}
await listener.close();
await hub.close();
process.exit(0);

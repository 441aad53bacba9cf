// One peer of the soak run (bench/soak/soak.ts), started as its own process:
//   tsx bench/soak/peer.ts service <socket>   registers soak.* services
//   tsx bench/soak/peer.ts caller <socket>    calls them in a loop, in every mix
// The caller prints one JSON line of counts every second; both exit when the hub is gone for
// good (the soak's hub is restarted only as part of the chaos, and peers are restarted then).
import { openSync } from "node:fs";
import { ByteStream, Channel, FileDescriptor, connectUnix, type HubClient } from "../../index.js";

const [role, socket] = process.argv.slice(2) as [string, string];
const hub = await connectUnix(socket);
void hub.connection.closed.then(() => process.exit(3));

function tenFds(): FileDescriptor[] {
  return Array.from({ length: 10 }, () => new FileDescriptor(openSync("/dev/null", "r")));
}

async function serve(client: HubClient): Promise<void> {
  await client.register("soak.echo", (data: unknown) => data);
  await client.register("soak.fds", () => ({ fds: tenFds() }));
  await client.register("soak.take", ({ fd }: { fd: FileDescriptor }) => {
    // Taken, then closed by the taker (a descriptor of whatever kind closes the same way).
    new FileDescriptor(fd.take()).close();
    return true;
  });
  await client.register("soak.slow", () => new Promise((resolve) => setTimeout(() => resolve("late"), 300)));
  await client.register("soak.events", async ({ events, count }: { events: Channel; count: number }) => {
    for (let i = 0; i < count; i++) await events.send({ i, fd: i % 4 === 0 ? tenFds()[0] : undefined });
    events.close();
    return count;
  });
  await client.register("soak.stream", async ({ stream }: { stream: ByteStream }) => {
    // Echo what arrives until the caller half-closes.
    await stream.readable.pipeTo(stream.writable);
    return true;
  });
  console.log("ready");
}

async function callForever(client: HubClient): Promise<never> {
  const counts: Record<string, number> = { ok: 0 };
  const count = (key: string): void => void (counts[key] = (counts[key] ?? 0) + 1);
  setInterval(() => console.log(JSON.stringify(counts)), 1000).unref();
  const payload = new Uint8Array(16 * 1024).fill(7);
  const mixes: (() => Promise<unknown>)[] = [
    () => client.call("soak.echo", { n: Math.random() }),
    () => client.call("soak.fds"), // ten fds per reply, never taken
    () => client.call("soak.take", { fd: new FileDescriptor(openSync("/dev/null", "r")) }),
    () => client.call("soak.echo", { fd: new FileDescriptor(openSync("/dev/null", "r")) }), // untaken
    () => client.call("soak.slow", null, { timeout: 50 }), // times out; the reply comes later
    () => client.call("soak.missing", { fd: new FileDescriptor(openSync("/dev/null", "r")) }),
    async () => {
      const [mine, theirs] = Channel.pair();
      const served = client.call("soak.events", { events: theirs, count: 20 });
      for await (const event of mine) void event;
      return served;
    },
    async () => {
      const [mine, theirs] = ByteStream.pair();
      const served = client.call("soak.stream", { stream: theirs }, { timeout: 10_000 });
      const writer = mine.writable.getWriter();
      const reading = (async () => {
        let total = 0;
        for await (const chunk of mine.readable) total += chunk.byteLength;
        return total;
      })();
      for (let i = 0; i < 16; i++) await writer.write(payload);
      await writer.close();
      await reading;
      return served;
    },
  ];
  for (;;) {
    await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        try {
          await mixes[(i + counts.ok!) % mixes.length]!();
          count("ok");
        } catch (error) {
          count((error as { code?: string }).code ?? "EUNKNOWN");
        }
      }),
    );
  }
}

if (role === "service") await serve(hub);
else await callForever(hub);

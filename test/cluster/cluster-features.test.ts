// What a cluster adds beyond one hub, on a real 3-node NATS cluster with three hubs (each on its
// own NATS node): plain NATS clients and `nats micro` discovery, balancing with same-host first,
// nesting across three hubs, big bodies under max_payload, descriptors across hosts.
import { createHash } from "node:crypto";
import { mkdtemp, open, rm, writeFile } from "node:fs/promises";
import { createServer, connect as connectTcp, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as connectNats, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ByteStream,
  Channel,
  connectMemory,
  FileDescriptor,
  Hub,
  VERSION,
  type HubClient,
} from "../../index.js";
import { joinCluster, type Cluster } from "../../cluster/index.js";
import { within } from "../compliance/suite.js";
import { startNatsCluster, type NatsCluster } from "../helpers/nats-cluster.js";

let nats: NatsCluster;
let dir: string;
const hubs = { a: new Hub(), b: new Hub(), c: new Hub() };
const clusters: Cluster[] = [];
let plain: NatsConnection;
const clients: Record<keyof typeof hubs, HubClient> = {} as never;

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** Waits (bounded) until every hub sees `count` instances of `name`. */
async function everywhere(name: string, count: number): Promise<void> {
  const until = Date.now() + 10_000;
  for (;;) {
    const seen = await Promise.all(Object.values(hubs).map((hub) => hub.lookup(name)));
    if (seen.every((found) => found.length === count)) return;
    if (Date.now() > until) throw new Error(`not every hub saw ${count} of "${name}"`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-cluster-features-"));
  nats = await startNatsCluster({ nodes: 3 });
  for (const [index, [name, hub]] of Object.entries(hubs).entries()) {
    clusters.push(
      await joinCluster(hub, { servers: nats.urls[index]!, name: "features", hub: `hub-${name}` }),
    );
    clients[name as keyof typeof hubs] = connectMemory(hub);
  }
  plain = await connectNats({ servers: nats.urls[1]! });
}, 60_000);

afterAll(async () => {
  await plain?.close();
  for (const client of Object.values(clients)) await client.close();
  await Promise.allSettled(clusters.map((cluster) => cluster.leave()));
  await Promise.allSettled(Object.values(hubs).map((hub) => hub.close()));
  await nats?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("a cluster of three hubs", () => {
  it("answers plain NATS requests, and nats micro discovery lists each hub's services", async () => {
    await clients.c.register("plain.greet", (name: string) => `hello ${name}`);
    await clients.c.register("plain.fail", () => {
      throw Object.assign(new Error("no luck"), { code: "EUNLUCKY" });
    });
    await clusters[2]!.settled();
    const reply = await plain.request("beam.features.svc.plain=2Egreet", JSON.stringify("Ada"), {
      timeout: 5000,
    });
    expect(JSON.parse(reply.string())).toBe("hello Ada");

    const failed = await plain.request("beam.features.svc.plain=2Efail", "", { timeout: 5000 });
    expect(failed.headers?.get("Nats-Service-Error-Code")).toBe("500");
    expect(failed.headers?.get("Nats-Service-Error")).toMatch(/no luck/);
    expect(JSON.parse(failed.string())).toMatchObject({
      error: { message: expect.stringMatching(/no luck/) },
    });

    const answers: {
      id: string;
      version: string;
      endpoints: { subject: string; metadata: { service: string } }[];
    }[] = [];
    for await (const message of await plain.requestMany("$SRV.INFO.beamhub", "", {
      maxWait: 1000,
      maxMessages: 3,
    }))
      answers.push(JSON.parse(message.string()));
    const hubC = answers.find((answer) => answer.id === "hub-c");
    expect(answers.map((answer) => answer.id).sort()).toEqual(["hub-a", "hub-b", "hub-c"]);
    // The package's version, as `beamhub --version` says it (nats micro shows it).
    for (const answer of answers) expect(answer.version).toBe(VERSION);
    expect(hubC?.endpoints).toContainEqual(
      expect.objectContaining({
        subject: "beam.features.svc.plain=2Egreet",
        metadata: { service: "plain.greet" },
      }),
    );
  });

  it("balances over the instances of other hubs, and keeps calls on the hub when it has one", async () => {
    const counts = { b: 0, c: 0, a: 0 };
    await clients.b.register("work", () => (counts.b++, "b"));
    await clients.c.register("work", () => (counts.c++, "c"));
    await everywhere("work", 2);
    await Promise.all(Array.from({ length: 600 }, () => clients.a.call("work", null, { timeout: 10_000 })));
    expect(counts.b + counts.c).toBe(600);
    expect(Math.abs(counts.b - counts.c)).toBeLessThanOrEqual(60);

    await clients.a.register("work", () => (counts.a++, "a"));
    const replies = await Promise.all(Array.from({ length: 50 }, () => clients.a.call("work")));
    expect(new Set(replies)).toEqual(new Set(["a"]));
    // A caller may still pick a hub by its label.
    expect(await clients.a.call("work", null, { labels: { "beamhub/hub": "hub-c" } })).toBe("c");
  });

  it("nests replies across three hubs: A calls B, B calls C, C asks A on A's channel", async () => {
    await clients.c.register("nest.end", async ({ channel }: { channel: Channel }) => {
      const answer = await channel.request("who are you?", { timeout: 5000 });
      return `C heard: ${String(answer)}`;
    });
    await clients.b.register(
      "nest.relay",
      async ({ channel }: { channel: Channel }, context) =>
        `B relayed; ${String(await clients.b.call("nest.end", { channel }, { cancelWith: context, timeout: 5000 }))}`,
    );
    await everywhere("nest.relay", 1);
    await everywhere("nest.end", 1);
    const [mine, theirs] = Channel.pair();
    mine.handle(() => "the caller on A");
    expect(await clients.a.call("nest.relay", { channel: theirs }, { timeout: 10_000 })).toBe(
      "B relayed; C heard: the caller on A",
    );
    mine.close();
  });

  it("carries a 5 MiB body and a 16 MiB stream through NATS's 1 MiB max_payload", async () => {
    expect(plain.info?.max_payload).toBe(1024 * 1024);
    await clients.c.register("big.echo", (data: Uint8Array) => data);
    await clients.c.register("big.hash", async ({ stream }: { stream: ByteStream }) =>
      createHash("sha256")
        .update(await readAll(stream.readable))
        .digest("hex"),
    );
    await everywhere("big.hash", 1);
    const body = new Uint8Array(5 * 1024 * 1024).map((_, index) => index % 251);
    const echoed = await clients.a.call<Uint8Array>("big.echo", body, { timeout: 20_000 });
    expect(Buffer.compare(Buffer.from(echoed), Buffer.from(body))).toBe(0);

    const [mine, theirs] = ByteStream.pair();
    const hashed = clients.a.call<string>("big.hash", { stream: theirs }, { timeout: 30_000 });
    const writer = mine.writable.getWriter();
    const hash = createHash("sha256");
    const chunk = new Uint8Array(256 * 1024);
    for (let index = 0; index < 64; index++) {
      chunk.fill(index);
      hash.update(chunk);
      await writer.write(chunk.slice());
    }
    await writer.close();
    expect(await within(hashed, 30_000, "the stream's hash")).toBe(hash.digest("hex"));
  });

  it("sends a file's content and a TCP connection's bytes where a descriptor cannot go", async () => {
    await clients.c.register("fd.read", async ({ file }: { file: ByteStream }) => {
      expect(file).toBeInstanceOf(ByteStream);
      return (await readAll(file.readable)).toString();
    });
    await clients.c.register("fd.shout", async ({ socket }: { socket: ByteStream }) => {
      const heard = (await readAll(socket.readable)).toString();
      const writer = socket.writable.getWriter();
      await writer.write(new TextEncoder().encode(heard.toUpperCase()));
      await writer.close();
      return heard;
    });
    await everywhere("fd.shout", 1);
    const path = join(dir, "note.txt");
    await writeFile(path, "behind a descriptor\n".repeat(5000));
    const handle = await open(path, "r");
    expect(await clients.a.call("fd.read", { file: new FileDescriptor(handle) }, { timeout: 10_000 })).toBe(
      "behind a descriptor\n".repeat(5000),
    );

    const server: Server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const accepted = new Promise<Socket>((resolve) => server.once("connection", resolve));
      const outside = connectTcp((server.address() as { port: number }).port, "127.0.0.1");
      await new Promise((resolve) => outside.once("connect", resolve));
      const inside = await accepted;
      const heardBack = new Promise<string>((resolve) => {
        let text = "";
        outside.on("data", (chunk: Buffer) => (text += chunk.toString()));
        outside.once("end", () => resolve(text));
      });
      const call = clients.a.call("fd.shout", { socket: new FileDescriptor(inside) }, { timeout: 10_000 });
      outside.end("quiet words");
      expect(await call).toBe("quiet words");
      expect(await within(heardBack, 5000, "the shout back")).toBe("QUIET WORDS");
      outside.destroy();
    } finally {
      server.close();
    }
  });

  it("carries pub/sub across hubs: live to subscribers everywhere, and in every hub's history", async () => {
    const subscription = clients.a.subscribe("news", { history: 0 });
    const iterator = subscription[Symbol.asyncIterator]();
    // The subscription is open at hub A once the hub reports it.
    await within(
      (async () => {
        while (
          !hubs.a.pubsub.channels().some((channel) => channel.name === "news" && channel.subscribers > 0)
        )
          await new Promise((resolve) => setTimeout(resolve, 10));
      })(),
      5000,
      "the subscription at hub A",
    );
    await clients.c.publish("news", { headline: "from C" });
    const received = await within(iterator.next(), 5000, "the publication from hub C");
    expect(received.value).toMatchObject({ data: { headline: "from C" } });
    expect(typeof (received.value as { from: unknown }).from).toBe("string");

    // A late joiner on hub B gets it from B's own history.
    await within(
      (async () => {
        while (
          !hubs.b.pubsub.channels().some((channel) => channel.name === "news" && channel.history.count > 0)
        )
          await new Promise((resolve) => setTimeout(resolve, 10));
      })(),
      5000,
      "the publication in hub B's history",
    );
    const late = clients.b.subscribe("news", { history: 10 });
    const first = await within(late[Symbol.asyncIterator]().next(), 5000, "history at hub B");
    expect(first.value).toMatchObject({ data: { headline: "from C" } });
    subscription.close();
    late.close();
  });
});

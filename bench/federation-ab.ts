/**
 * A/B of the byte stream site → broker → site between two (or more) source trees of beamhub:
 * each tree runs its own broker and two sites over real TLS on loopback in a child process of
 * its own (two trees in one process share cbor-x's global extensions, and a stream of one tree
 * decodes as the other's), 16 MiB go through each tree's broker in turn (rounds interleaved, the
 * order rotated every round, one tree at a time), and every figure is the median of per-round
 * ratios against the first tree, in the child's CPU time (its whole path runs in that process,
 * so CPU per byte is the cost; wall time is shown too, but on a loaded machine it mostly tells
 * the load).
 *
 *   mkdir -p /tmp/ab/base && git archive <commit> | tar -x -C /tmp/ab/base \
 *     && ln -s "$PWD/node_modules" /tmp/ab/base/node_modules
 *   AB_TREES=/tmp/ab/base,. npx tsx bench/federation-ab.ts
 */
import { fork, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { basename, join, resolve } from "node:path";
import { formatSpread, median, roundRatioSpread } from "./harness.js";

const trees = (process.env.AB_TREES ?? "").split(",").filter((tree) => tree !== "");
if (trees.length < 2) throw new Error("set AB_TREES to two or more tree directories, comma-separated");
const ROUNDS = Number(process.env.ROUNDS ?? 9);
const BYTES = Number(process.env.MIB ?? 16) * 1048576;
const CHUNK = Buffer.alloc(64 * 1024, 7);

interface TreeStream {
  readable: AsyncIterable<Uint8Array>;
  writable: WritableStream<Uint8Array>;
}
interface TreeHub {
  call<T>(name: string, data?: unknown, options?: object): Promise<T>;
  register(name: string, handler: (data: never) => unknown): Promise<unknown>;
  close(): Promise<void>;
}
/** The part of a tree's index.ts this bench uses (the same in every tree since session 7). */
interface TreeApi {
  Hub: new () => TreeHub;
  ByteStream: { pair(): [TreeStream, TreeStream] };
  CertificateAuthority: {
    init(
      dir: string,
    ): Promise<{ rootPem: string; issue(id: string): Promise<{ certificate: string; key: string }> }>;
  };
  listenHttps(hub: TreeHub, options: object): Promise<{ url: string; close(): Promise<void> }>;
  serveBroker(hub: TreeHub, options?: object): Promise<{ close(): Promise<void> }>;
  joinFederation(hub: TreeHub, options: object): Promise<{ close(): Promise<void> }>;
}

interface Contender {
  client: TreeHub;
  pair(): [TreeStream, TreeStream];
  close(): Promise<void>;
}

const work = await mkdtemp(join(tmpdir(), "bench-federation-ab-"));

async function start(tree: string, index: number): Promise<Contender> {
  const api = (await import(resolve(tree, "index.ts"))) as TreeApi;
  const ca = await api.CertificateAuthority.init(join(work, `ca${index}`));
  const brokerCredentials = await ca.issue("broker");
  const brokerHub = new api.Hub();
  const listener = await api.listenHttps(brokerHub, {
    host: "127.0.0.1",
    port: 0,
    cert: brokerCredentials.certificate,
    key: brokerCredentials.key,
    ca: ca.rootPem,
  });
  const broker = await api.serveBroker(brokerHub);
  const hubs = [new api.Hub(), new api.Hub()];
  const sites: { close(): Promise<void> }[] = [];
  for (const [position, hub] of hubs.entries()) {
    const id = `proxy${position + 1}.broker`;
    const credentials = await ca.issue(id);
    sites.push(
      await api.joinFederation(hub, {
        broker: listener.url,
        id,
        cert: credentials.certificate,
        key: credentials.key,
        root: ca.rootPem,
      }),
    );
  }
  await hubs[1]!.register("drain", async (data: { stream: TreeStream }) => {
    let bytes = 0;
    for await (const chunk of data.stream.readable) bytes += chunk.byteLength;
    return bytes;
  });
  return {
    client: hubs[0]!,
    pair: () => api.ByteStream.pair(),
    close: async () => {
      await Promise.allSettled(sites.map((site) => site.close()));
      await broker.close();
      await listener.close();
      await Promise.allSettled([...hubs, brokerHub].map((hub) => hub.close()));
    },
  };
}

/** One stream of BYTES through `contender`'s broker: CPU and wall milliseconds. */
async function round(contender: Contender): Promise<Measured> {
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const [mine, theirs] = contender.pair();
  const received = contender.client.call<number>(
    "drain@proxy2.broker",
    { stream: theirs },
    { timeout: 120_000, waitForService: 10_000 },
  );
  const writer = mine.writable.getWriter();
  for (let sent = 0; sent < BYTES; sent += CHUNK.length) await writer.write(CHUNK);
  await writer.close();
  const total = await received;
  if (total !== BYTES) throw new Error(`sent ${BYTES} bytes, ${total} arrived`);
  const cpu = process.cpuUsage(cpuBefore);
  return { cpu: (cpu.user + cpu.system) / 1000, wall: performance.now() - started };
}

interface Measured {
  cpu: number;
  wall: number;
}

if (process.env.AB_TREE !== undefined) {
  // A child: one tree's federation; a round on each message.
  const contender = await start(process.env.AB_TREE, 0);
  process.on("message", (message: string) => {
    if (message === "close") {
      void contender
        .close()
        .then(() => rm(work, { recursive: true, force: true }))
        .then(() => process.disconnect());
      return;
    }
    void round(contender).then(
      (measured) => process.send!(measured),
      (error: Error) => process.send!({ error: error.message }),
    );
  });
  process.send!("ready");
} else {
  const children = trees.map((tree) =>
    fork(fileURLToPath(import.meta.url), [], {
      env: { ...process.env, AB_TREE: tree },
      execArgv: ["--import", "tsx"],
    }),
  );
  const ask = (child: ChildProcess, message: string): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("a child did not answer within 300 s")), 300_000);
      child.once("message", (answer) => {
        clearTimeout(timer);
        if (typeof answer === "object" && answer !== null && "error" in answer)
          reject(new Error(String((answer as { error: unknown }).error)));
        else resolve(answer);
      });
      if (message !== "") child.send(message);
    });
  try {
    await Promise.all(children.map((child) => ask(child, "")));
    for (const child of children) await ask(child, "round"); // warm-up
    const cpu = trees.map(() => [] as number[]);
    const wall = trees.map(() => [] as number[]);
    for (let r = 0; r < ROUNDS; r++) {
      for (let k = 0; k < trees.length; k++) {
        const which = (r + k) % trees.length;
        const measured = (await ask(children[which]!, "round")) as Measured;
        cpu[which]!.push(measured.cpu);
        wall[which]!.push(measured.wall);
      }
    }
    const mib = BYTES / 1048576;
    console.log(
      `federation stream A/B: ${mib} MiB site → broker → site, ${ROUNDS} rounds, node ${process.version}, ` +
        `${new Date().toISOString()}, load ${loadavg()
          .map((load) => load.toFixed(1))
          .join(" ")}`,
    );
    for (const [index, tree] of trees.entries()) {
      // Speed as the base's cost over this one's: above 1 is faster.
      const cpuRatio = roundRatioSpread(cpu[0]!, cpu[index]!);
      const wallRatio = roundRatioSpread(wall[0]!, wall[index]!);
      console.log(
        `  ${basename(resolve(tree)).padEnd(12)} CPU ${(median(cpu[index]!) / mib).toFixed(2)} ms/MiB ` +
          `(${((mib * 1000) / median(cpu[index]!)).toFixed(0)} MiB per CPU-s), wall ${((mib * 1000) / median(wall[index]!)).toFixed(0)} MiB/s; ` +
          `speed vs ${basename(resolve(trees[0]!))}: CPU ${formatSpread(cpuRatio)}, wall ${formatSpread(wallRatio)}`,
      );
    }
  } finally {
    for (const child of children) if (child.connected) child.send("close");
    await Promise.all(
      children.map(
        (child) =>
          new Promise((resolve) => (child.exitCode === null ? child.once("exit", resolve) : resolve(null))),
      ),
    );
    await rm(work, { recursive: true, force: true });
  }
}

// Pub/sub fan-out: 1 publisher → 100 subscribers (each on its own connection, all in one other
// process), messages per second delivered, in one run against the same fan-out done by a raw
// `ws` server looping over its clients (TLS, as beamhub's WebSocket) and by NATS (nats-server
// from Debian, nats.js clients). Then: a subscriber joining a channel with 200 messages of
// history, time until its first live message (p50/p99).
//
//   npx tsx bench/pubsub.ts     (BENCH_MESSAGES=2000 per round, BENCH_ROUNDS=5, BENCH_SUBSCRIBERS=100)
//
// Rounds alternate the contenders, so machine noise hits them alike; each figure is the median
// of the rounds, and ratios are medians of per-round ratios (harness.ts).
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer as createHttpsServer } from "node:https";
import { connect as netConnect, type AddressInfo, type Socket } from "node:net";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { connect as natsConnect } from "@nats-io/transport-node";
import { WebSocketServer, type WebSocket } from "ws";
import { startNatsServer } from "../test/helpers/nats-cluster.js";
import { connectUnix, Hub, listenHttps, listenUnix, type PubSubMessage } from "../index.js";
import { formatSpread, median, pipelined, roundRatio, roundRatioSpread } from "./harness.js";

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 2000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SUBSCRIBERS = Number(process.env.BENCH_SUBSCRIBERS ?? 100);
const JOINS = Number(process.env.BENCH_JOINS ?? 200);
const PAYLOAD = new Uint8Array(64).fill(7);
const ONLY = process.env.BENCH_ONLY === undefined ? undefined : new RegExp(process.env.BENCH_ONLY);
const CHILD = fileURLToPath(new URL("./pubsub-subscribers.ts", import.meta.url));
/**
 * Another source tree (e.g. `git archive` of the previous commit, with node_modules and
 * native/build beside it) as one more contender: its own hub in this process, on a Unix socket
 * of its own, publishing to its own subscribers. Both sides of two trees are A/B-ed in one run,
 * rounds interleaved; the idle hub of a round costs next to nothing.
 */
const BASE_TREE = process.env.BENCH_BASE_TREE;
const BASE_NAME = "beamhub unix, hub process of the base tree";
const THIS_TREE_NAME = "beamhub unix, hub process of this tree";
const HUB_CHILD = fileURLToPath(new URL("./pubsub-hub.ts", import.meta.url));
const RAW_SERVER = fileURLToPath(new URL("./pubsub-raw-server.ts", import.meta.url));
const RAW_NAME = "raw Node fan-out over unix, a copy per delivery";
const RELAY_NAME = "raw Node byte relay over unix (no work per delivery)";
const NATS_NAME = "NATS (nats-server, nats.js)";

/** The process holding the subscribers of one contender. */
class Subscribers {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #lines: string[] = [];
  #waiting: ((line: string) => void) | undefined;

  constructor(
    args: string[],
    readonly channel = "bench",
    readonly name = args[0],
    child = CHILD,
  ) {
    this.#child = spawn(
      process.execPath,
      [
        ...(process.env.BENCH_CHILD_PROF
          ? ["--cpu-prof", "--cpu-prof-dir", process.env.BENCH_CHILD_PROF]
          : []),
        "--import",
        "tsx",
        child,
        ...args,
        String(SUBSCRIBERS),
        channel,
      ],
      {
        stdio: "pipe",
      },
    );
    this.#child.stderr.pipe(process.stderr);
    let rest = "";
    this.#child.stdout.setEncoding("utf8").on("data", (text: string) => {
      rest += text;
      for (let at = rest.indexOf("\n"); at >= 0; at = rest.indexOf("\n")) {
        const line = rest.slice(0, at);
        rest = rest.slice(at + 1);
        if (this.#waiting !== undefined) {
          const waiting = this.#waiting;
          this.#waiting = undefined;
          waiting(line);
        } else this.#lines.push(line);
      }
    });
  }

  line(what: string, ms = 120_000): Promise<string> {
    const ready = this.#lines.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(`no "${what}" from the ${this.name} subscribers of "${this.channel}" within ${ms} ms`),
          ),
        ms,
      );
      this.#waiting = (line) => {
        clearTimeout(timer);
        resolve(line);
      };
    });
  }

  /** CPU µs the subscriber process spent per delivered message, one figure per round. */
  readonly cpuPerMessage: number[] = [];

  /** CPU µs the publishing side (this process, plus nats-server for NATS) spent per delivered message. */
  readonly serverCpuPerMessage: number[] = [];

  /** One round: arms the counters, runs `publish`, waits until every subscriber got every message. */
  async round(
    publish: () => Promise<void>,
    serverCpu: () => number | Promise<number> = ownCpu,
  ): Promise<number> {
    this.#child.stdin.write(`expect ${MESSAGES}\n`);
    await this.line("armed");
    const cpuBefore = await serverCpu();
    const started = process.hrtime.bigint();
    await publish();
    // On a stall, say how far the subscribers got before giving up.
    const status = setTimeout(() => this.#child.stdin.write("status\n"), 60_000);
    const done = await this.line("done").finally(() => clearTimeout(status));
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    this.cpuPerMessage.push(Number(done.split(" ")[1]) / (MESSAGES * SUBSCRIBERS));
    this.serverCpuPerMessage.push(((await serverCpu()) - cpuBefore) / (MESSAGES * SUBSCRIBERS));
    return (MESSAGES * SUBSCRIBERS) / seconds;
  }

  async close(): Promise<void> {
    const exited = new Promise((resolve) => this.#child.once("exit", resolve));
    this.#child.stdin.write("quit\n");
    const timer = setTimeout(() => this.#child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  }
}

interface Contender {
  name: string;
  subscribers: Subscribers;
  publish(): Promise<void>;
  /** CPU µs used so far by the publishing side: this process (hub and publisher), and a server's. */
  serverCpu?: () => number | Promise<number>;
  close(): Promise<void>;
}

/** CPU µs this process used so far. */
function ownCpu(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

/** CPU µs process `pid` used so far (Linux /proc, in clock ticks of 10 ms: rounds last seconds). */
function processCpu(pid: number | undefined): number {
  if (pid === undefined) return 0;
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  // utime and stime are fields 14 and 15 of stat, 12 and 13 after "pid (comm) ".
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

const dir = mkdtempSync(join(tmpdir(), "beamhub-bench-pubsub-"));

/**
 * A hub in a process of its own (bench/pubsub-hub.ts) running `tree`'s sources: for the A/B of
 * two trees, whose hub side is then that process's CPU time.
 */
class HubProcess {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #lines: string[] = [];
  #waiting: ((line: string) => void) | undefined;

  constructor(
    readonly tree: string,
    readonly path: string,
  ) {
    this.#child = spawn(process.execPath, ["--import", "tsx", HUB_CHILD, tree, path], { stdio: "pipe" });
    this.#child.stderr.pipe(process.stderr);
    let rest = "";
    this.#child.stdout.setEncoding("utf8").on("data", (text: string) => {
      rest += text;
      for (let at = rest.indexOf("\n"); at >= 0; at = rest.indexOf("\n")) {
        const line = rest.slice(0, at);
        rest = rest.slice(at + 1);
        const waiting = this.#waiting;
        this.#waiting = undefined;
        if (waiting !== undefined) waiting(line);
        else this.#lines.push(line);
      }
    });
  }

  /** The next line the hub process writes (after `command`, if given). */
  line(command?: string, ms = 120_000): Promise<string> {
    if (command !== undefined) this.#child.stdin.write(`${command}\n`);
    const ready = this.#lines.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no answer from the hub of ${this.tree} within ${ms} ms`)),
        ms,
      );
      this.#waiting = (line) => {
        clearTimeout(timer);
        resolve(line);
      };
    });
  }

  async publish(channel: string): Promise<void> {
    const answer = await this.line(`publish ${channel} ${MESSAGES}`);
    if (answer !== "published") throw new Error(`hub of ${this.tree}: ${answer}`);
  }

  /** CPU µs the hub process used so far. */
  async cpu(): Promise<number> {
    const answer = await this.line("cpu");
    if (!answer.startsWith("cpu ")) throw new Error(`hub of ${this.tree}: ${answer}`);
    return Number(answer.slice(4));
  }

  async close(): Promise<void> {
    const exited = new Promise((resolve) => this.#child.once("exit", resolve));
    this.#child.stdin.write("quit\n");
    const timer = setTimeout(() => this.#child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  }
}

/**
 * The raw Node fan-out (bench/pubsub-raw-server.ts) in a process of its own, as nats-server is,
 * with the publisher in this process: the bound a Node hub works under on this machine.
 */
async function rawContender(mode: "copy" | "relay", name: string): Promise<Contender> {
  const publishPath = join(dir, `raw-${mode}-publish.sock`);
  const subscribePath = join(dir, `raw-${mode}-subscribe.sock`);
  const server = spawn(process.execPath, ["--import", "tsx", RAW_SERVER, mode, publishPath, subscribePath], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const exited = new Promise((resolve) => server.once("exit", resolve));
  const ready = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the raw Node server did not start in 60 s")), 60_000);
    server.stdout.setEncoding("utf8").once("data", (text: string) => {
      clearTimeout(timer);
      resolve(text.trim());
    });
  });
  if (ready !== "ready") throw new Error(`raw Node server: ${ready}`);
  const publisher = await new Promise<Socket>((resolve, reject) => {
    const socket = netConnect(publishPath);
    socket.once("connect", () => resolve(socket)).once("error", reject);
  });
  // Every message with its length prefix, as the publisher's writes: one writev per round.
  const frame = Buffer.alloc(4 + PAYLOAD.byteLength);
  frame.writeUInt32BE(PAYLOAD.byteLength, 0);
  frame.set(PAYLOAD, 4);
  return {
    name,
    subscribers: new Subscribers(["raw", subscribePath, "-"], "bench.raw", name),
    publish: () =>
      new Promise<void>((resolve, reject) => {
        publisher.cork();
        for (let i = 1; i < MESSAGES; i++) publisher.write(frame);
        publisher.write(frame, (error) => (error ? reject(error) : resolve()));
        publisher.uncork();
      }),
    serverCpu: () => ownCpu() + processCpu(server.pid),
    close: async () => {
      publisher.destroy();
      server.stdin.end("quit\n");
      const timer = setTimeout(() => server.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The two hub processes of an A/B of trees, each with its subscribers, as contenders. */
async function treeContenders(baseTree: string): Promise<Contender[]> {
  const trees = [
    { name: THIS_TREE_NAME, tree: fileURLToPath(new URL("..", import.meta.url)), socket: "this.sock" },
    { name: BASE_NAME, tree: baseTree, socket: "base.sock" },
  ];
  const list: Contender[] = [];
  for (const { name, tree, socket } of trees) {
    const hub = new HubProcess(tree, join(dir, socket));
    const ready = await hub.line();
    if (ready !== "ready") throw new Error(`hub of ${tree}: ${ready}`);
    list.push({
      name,
      subscribers: new Subscribers(
        ["beamhub-unix", hub.path, "-"],
        "bench.tree",
        name,
        join(tree, "bench", "pubsub-subscribers.ts"),
      ),
      publish: () => hub.publish("bench.tree"),
      serverCpu: () => hub.cpu(),
      close: () => hub.close(),
    });
  }
  return list;
}

async function contenders(): Promise<Contender[]> {
  const hub = new Hub();
  const unixPath = join(dir, "hub.sock");
  // A keep-alive of 30 s (see pubsub-subscribers.ts): starved subscriber processes keep their sessions.
  const unix = await listenUnix(hub, unixPath, { maxConnectionsPerUid: 1000, keepAlive: 30_000 });
  const https = await listenHttps(hub, { certDir: join(dir, "cert"), maxConnectionsPerAddress: 1000 });
  const caFile = join(dir, "cert", "cert.pem");
  const publishInHub = (channel: string) => async (): Promise<void> => {
    for (let i = 0; i < MESSAGES; i++) await hub.publish(channel, PAYLOAD);
  };
  const publisher = await connectUnix(unixPath, { reconnect: false });

  // The raw ws broadcast: a TLS server that sends every message to every client, nothing else.
  const tls = createHttpsServer({
    cert: readFileSync(caFile),
    key: readFileSync(join(dir, "cert", "key.pem")),
  });
  const wss = new WebSocketServer({ server: tls, perMessageDeflate: false });
  const clients = new Set<WebSocket>();
  wss.on("connection", (socket) => {
    clients.add(socket);
    socket.on("close", () => clients.delete(socket));
  });
  await new Promise<void>((resolve) => tls.listen(0, "127.0.0.1", resolve));
  const wsUrl = `wss://localhost:${(tls.address() as AddressInfo).port}`;

  // NATS: a real nats-server (no JetStream: plain fan-out) on free loopback ports, started and
  // killed by the test harness (which installs it when missing).
  const nats = await startNatsServer({ jetstream: false });
  const nc = await natsConnect({ servers: nats.url });

  const list: Contender[] = [
    {
      name: "beamhub unix, hub.publish in the hub",
      subscribers: new Subscribers(["beamhub-unix", unixPath, "-"], "bench.unix"),
      publish: publishInHub("bench.unix"),
      close: async () => undefined,
    },
    {
      // The subscriber's event window bounds the hub's writes: one sendmsg per half window
      // of credit per subscriber. A session may announce a larger one (`limits.eventWindow`).
      name: "beamhub unix, hub.publish in the hub, subscribers' eventWindow 1024",
      subscribers: new Subscribers(["beamhub-unix", unixPath, "window=1024"], "bench.window"),
      publish: publishInHub("bench.window"),
      close: async () => undefined,
    },
    {
      name: "beamhub unix, publisher over unix (64 in flight)",
      subscribers: new Subscribers(["beamhub-unix", unixPath, "-"], "bench.remote"),
      publish: () => pipelined(MESSAGES, 64, () => publisher.publish("bench.remote", PAYLOAD)),
      close: () => publisher.close(),
    },
    ...(BASE_TREE === undefined ? [] : await treeContenders(BASE_TREE)),
    {
      name: "beamhub websocket (TLS), hub.publish in the hub",
      subscribers: new Subscribers(["beamhub-ws", https.url, caFile], "bench.ws"),
      publish: publishInHub("bench.ws"),
      close: async () => undefined,
    },
    {
      name: "raw ws broadcast (TLS)",
      subscribers: new Subscribers(["ws", wsUrl, caFile]),
      publish: async () => {
        for (let i = 0; i < MESSAGES; i++) for (const client of clients) client.send(PAYLOAD);
      },
      close: async () => {
        for (const client of clients) client.terminate();
        await new Promise((resolve) => wss.close(resolve));
        await new Promise((resolve) => tls.close(resolve));
      },
    },
    await rawContender("copy", RAW_NAME),
    await rawContender("relay", RELAY_NAME),
    {
      name: NATS_NAME,
      subscribers: new Subscribers(["nats", nats.url, "-"]),
      publish: async () => {
        for (let i = 0; i < MESSAGES; i++) nc.publish("bench", PAYLOAD);
        await nc.flush();
      },
      serverCpu: () => ownCpu() + processCpu(nats.pid),
      close: async () => {
        await nc.close();
        await nats.stop();
      },
    },
  ];
  if (ONLY !== undefined) {
    for (const contender of list.filter((candidate) => !ONLY.test(candidate.name))) {
      await contender.subscribers.close();
    }
  }
  for (const contender of list) {
    if (ONLY !== undefined && !ONLY.test(contender.name)) continue;
    const ready = await contender.subscribers.line("ready");
    if (ready !== "ready") throw new Error(`${contender.name}: ${ready}`);
  }
  const closeAll = list.at(-1)!.close;
  list.at(-1)!.close = async () => {
    await closeAll();
    await unix.close();
    await https.close();
    await hub.close();
  };
  return list;
}

async function fanOut(): Promise<void> {
  const all = await contenders();
  const list = all.filter((contender) => ONLY === undefined || ONLY.test(contender.name));
  const samples = new Map<string, number[]>(list.map((contender) => [contender.name, []]));
  // A warm-up round each, then the measured rounds, alternating.
  for (const contender of list) await contender.subscribers.round(contender.publish, contender.serverCpu);
  for (const contender of list) {
    contender.subscribers.cpuPerMessage.length = 0;
    contender.subscribers.serverCpuPerMessage.length = 0;
  }
  for (let round = 0; round < ROUNDS; round++) {
    for (const contender of list)
      samples
        .get(contender.name)!
        .push(await contender.subscribers.round(contender.publish, contender.serverCpu));
  }
  const nats = samples.get(NATS_NAME);
  const raw = samples.get(RAW_NAME);
  const rawSubscribers = list.find((contender) => contender.name === RAW_NAME)?.subscribers;
  const ws = samples.get("raw ws broadcast (TLS)");
  const natsSubscribers = list.find((contender) => contender.name === NATS_NAME)?.subscribers;
  const ratio = (values: number[], base: number[] | undefined): string =>
    base === undefined ? "-" : roundRatio(values, base).toFixed(2);
  console.log(
    `\nload average ${loadavg()
      .map((load) => load.toFixed(1))
      .join(" ")} (1, 5, 15 min)`,
  );
  console.log(
    `\nfan-out: 1 publisher → ${SUBSCRIBERS} subscribers, ${MESSAGES} × 64 B per round, ${ROUNDS} rounds`,
  );
  // Under load, wall-clock rates follow the machine; the subscriber process's CPU time per
  // message is what its client library costs, whatever else runs.
  const columns: [string, number][] = [
    ["contender", -64],
    ["delivered/s", 12],
    ["× NATS", 7],
    ["× raw", 6],
    ["× raw ws", 8],
    ["sub CPU µs/msg", 14],
    ["× NATS", 6],
    ["× raw", 6],
    ["pub side µs/msg", 15],
    ["× NATS", 6],
    ["× raw", 6],
  ];
  const row = (cells: string[]): string =>
    "  " +
    cells
      .map((cell, at) => {
        const width = columns[at]![1];
        return width < 0 ? cell.padEnd(-width) : cell.padStart(width);
      })
      .join("  ");
  console.log(row(columns.map(([title]) => title)));
  for (const contender of list) {
    const values = samples.get(contender.name)!;
    const { cpuPerMessage, serverCpuPerMessage } = contender.subscribers;
    console.log(
      row([
        contender.name,
        Math.round(median(values)).toLocaleString("en-US"),
        ratio(values, nats),
        ratio(values, raw),
        ratio(values, ws),
        median(cpuPerMessage).toFixed(2),
        ratio(cpuPerMessage, natsSubscribers?.cpuPerMessage),
        ratio(cpuPerMessage, rawSubscribers?.cpuPerMessage),
        median(serverCpuPerMessage).toFixed(2),
        ratio(serverCpuPerMessage, natsSubscribers?.serverCpuPerMessage),
        ratio(serverCpuPerMessage, rawSubscribers?.serverCpuPerMessage),
      ]),
    );
  }
  if (rawSubscribers !== undefined && natsSubscribers !== undefined) {
    // The bound: if the smallest Node fan-out stays under NATS, no Node hub reaches 1× NATS here.
    const spread = (over: number[], under: number[]): string => formatSpread(roundRatioSpread(over, under));
    console.log(`\nagainst the bound (median of per-round ratios, lowest–highest):`);
    for (const contender of list.filter((candidate) => candidate.name.startsWith("raw Node"))) {
      const { cpuPerMessage, serverCpuPerMessage } = contender.subscribers;
      console.log(
        `  ${contender.name} / NATS: delivered/s ${spread(samples.get(contender.name)!, nats!)}, ` +
          `server side CPU/msg ${spread(serverCpuPerMessage, natsSubscribers.serverCpuPerMessage)}, ` +
          `subscriber CPU/msg ${spread(cpuPerMessage, natsSubscribers.cpuPerMessage)}`,
      );
    }
    for (const contender of list.filter((candidate) => candidate.name.startsWith("beamhub unix"))) {
      const { cpuPerMessage, serverCpuPerMessage } = contender.subscribers;
      console.log(
        `  ${contender.name}: / raw Node ${spread(samples.get(contender.name)!, raw!)}; ` +
          `hub side CPU/msg × nats-server ${spread(serverCpuPerMessage, natsSubscribers.serverCpuPerMessage)}; ` +
          `subscriber CPU/msg × nats.js ${spread(cpuPerMessage, natsSubscribers.cpuPerMessage)}`,
      );
    }
  }
  const mine = list.find((contender) => contender.name === THIS_TREE_NAME);
  const baseline = list.find((contender) => contender.name === BASE_NAME);
  if (mine !== undefined && baseline !== undefined) {
    // The A/B of two trees: medians of per-round ratios, this tree over the base (below 1: less).
    const spread = (over: number[], under: number[]): string => formatSpread(roundRatioSpread(over, under));
    console.log(`\nthis tree / base tree (median of per-round ratios, lowest–highest):`);
    console.log(`  delivered/s          ${spread(samples.get(mine.name)!, samples.get(baseline.name)!)}`);
    console.log(
      `  hub side CPU/msg     ${spread(mine.subscribers.serverCpuPerMessage, baseline.subscribers.serverCpuPerMessage)}`,
    );
    console.log(
      `  subscriber CPU/msg   ${spread(mine.subscribers.cpuPerMessage, baseline.subscribers.cpuPerMessage)}`,
    );
  }
  for (const contender of list) await contender.subscribers.close();
  for (const contender of all) await contender.close();
}

/**
 * A subscriber joins a channel that keeps 200 messages and a live one is published at once:
 * how long until it has the live one (after the 200 of history), over a real Unix socket.
 */
async function join200(): Promise<void> {
  const hub = new Hub();
  const path = join(dir, "join.sock");
  const listener = await listenUnix(hub, path);
  const client = await connectUnix(path, { reconnect: false });
  for (let i = 0; i < 200; i++) await hub.publish("history", { i, text: "a message of history" });
  const times: number[] = [];
  for (let join = 0; join < JOINS + 20; join++) {
    const started = process.hrtime.bigint();
    const subscription = client.subscribe("history");
    await subscription.ready;
    const live = hub.publish("history", { live: join });
    let seen = 0;
    for await (const item of subscription) {
      seen++;
      if (((item as PubSubMessage).data as { live?: number }).live === join) break;
    }
    await live;
    if (seen !== 201) throw new Error(`join ${join}: ${seen} messages before the live one, not 201`);
    if (join >= 20) times.push(Number(process.hrtime.bigint() - started) / 1e6); // after a warm-up
  }
  times.sort((a, b) => a - b);
  const at = (q: number): string =>
    times[Math.min(times.length - 1, Math.floor(q * times.length))]!.toFixed(2);
  console.log(`\njoin with 200 messages of history, first live message (${JOINS} joins over Unix):`);
  console.log(`  p50 ${at(0.5)} ms   p99 ${at(0.99)} ms`);
  await client.close();
  await listener.close();
  await hub.close();
}

try {
  await fanOut();
  await join200();
} finally {
  rmSync(dir, { recursive: true, force: true });
}

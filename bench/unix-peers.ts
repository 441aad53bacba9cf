/**
 * The peers of bench/unix.ts, measured in the same run (issue 19): Node's own `child_process.fork`
 * IPC with json and with advanced serialization, and NATS request/reply (a real nats-server from
 * Debian, the nats.js client, the responder in a process of its own). Each offers
 * `request(payload)`, so the bench drives them exactly as it drives a beamhub call. Also
 * `pinTo`, the `BENCH_PIN=1` helper that pins a process (all its threads) to one core.
 *
 * Run as a script, this file is the peers' far ends: `fork-echo` (answers every IPC message with
 * itself) and `nats-echo <url>` (answers every request on `bench.echo` with its data).
 */
import { execFileSync, fork, spawn, type ChildProcess, type SerializationType } from "node:child_process";
import { once } from "node:events";
import net, { type AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { connect as natsConnect, type NatsConnection } from "@nats-io/transport-node";

/** A peer's requesting end. */
export interface Peer {
  request(payload: Uint8Array): Promise<unknown>;
  /** The processes that answer (for their CPU time per request). */
  readonly pids: readonly number[];
  close(): Promise<void>;
}

/** How long a peer may take to start or answer before the bench gives up (a loaded machine). */
const START_TIMEOUT_MS = 20_000;
const REQUEST_TIMEOUT_MS = 30_000;

/**
 * Pins process `pid` and all its threads to `core` with taskset (`BENCH_PIN=1`): with the
 * requesting process on one core and the answering ones on the other, the scheduler cannot put
 * both ends on one core for a round and split them for the next.
 */
export function pinTo(pid: number, core: number): void {
  execFileSync("taskset", ["-a", "-cp", String(core), String(pid)], { stdio: "ignore" });
}

/** Waits for a child's first message (or exit) within START_TIMEOUT_MS. */
async function started(child: ChildProcess, what: string): Promise<void> {
  const timeout = AbortSignal.timeout(START_TIMEOUT_MS);
  const [message] = (await once(child, "message", { signal: timeout }).catch((error: unknown) => {
    child.kill("SIGKILL");
    throw new Error(`${what} did not start within ${START_TIMEOUT_MS} ms`, { cause: error });
  })) as [unknown];
  if (message !== "ready") throw new Error(`${what} said ${JSON.stringify(message)} instead of ready`);
}

/**
 * Node's IPC between a parent and a forked child: each request `{ id, payload }` is echoed back
 * and matched by id, 1 or 100 outstanding like every scenario. `serialization` is Node's choice
 * of wire format: `json` (the default) or `advanced` (the structured clone algorithm).
 */
export async function forkPeer(serialization: SerializationType, pin?: number): Promise<Peer> {
  const child = fork(fileURLToPath(import.meta.url), ["fork-echo"], {
    serialization,
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  await started(child, `the fork peer (${serialization})`);
  if (pin !== undefined) pinTo(child.pid!, pin);
  const waiting = new Map<number, (value: unknown) => void>();
  let nextId = 0;
  child.on("message", (message: { id: number; payload: unknown }) => {
    const resolve = waiting.get(message.id);
    waiting.delete(message.id);
    resolve?.(message.payload);
  });
  // json turns a Uint8Array into an object of its bytes; send what each format carries natively.
  const encode = (payload: Uint8Array): unknown =>
    serialization === "json" ? Buffer.from(payload).toString("latin1") : payload;
  return {
    pids: [child.pid!],
    request(payload) {
      nextId += 1;
      const id = nextId;
      return new Promise((resolve) => {
        waiting.set(id, resolve);
        child.send({ id, payload: encode(payload) });
      });
    },
    async close() {
      child.kill();
      if (child.exitCode === null && child.signalCode === null) await once(child, "exit");
    },
  };
}

/** A free TCP port on 127.0.0.1 (asked of the kernel, then released for nats-server). */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Connects to a nats-server that is starting, retrying until START_TIMEOUT_MS. */
async function connectWhenUp(url: string): Promise<NatsConnection> {
  const giveUpAt = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    try {
      return await natsConnect({ servers: url, timeout: 2_000 });
    } catch (error) {
      if (Date.now() > giveUpAt) throw new Error(`nats-server at ${url} did not come up`, { cause: error });
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/**
 * NATS request/reply: a nats-server (Debian's `nats-server`, on a free loopback port) between
 * this process's nats.js client and a responder process. Throws when nats-server is missing.
 */
export async function natsPeer(pin?: number): Promise<Peer> {
  const port = await freePort();
  const url = `127.0.0.1:${port}`;
  const server = spawn("nats-server", ["-a", "127.0.0.1", "-p", String(port)], { stdio: "ignore" });
  const spawnFailed = once(server, "error").then(([error]) => {
    throw new Error("nats-server could not be started (apt-get install nats-server)", { cause: error });
  });
  let responder: ChildProcess | undefined;
  try {
    const nc = await Promise.race([connectWhenUp(url), spawnFailed]);
    responder = fork(fileURLToPath(import.meta.url), ["nats-echo", url], {
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    await started(responder, "the NATS responder");
    if (pin !== undefined) {
      pinTo(server.pid!, pin);
      pinTo(responder.pid!, pin);
    }
    const answering = responder;
    return {
      pids: [server.pid!, answering.pid!],
      request: (payload) => nc.request("bench.echo", payload, { timeout: REQUEST_TIMEOUT_MS }),
      async close() {
        await nc.close();
        answering.kill();
        server.kill();
        await Promise.all([once(answering, "exit"), once(server, "exit")]);
      },
    };
  } catch (error) {
    responder?.kill("SIGKILL");
    server.kill("SIGKILL");
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// The far ends, run as child processes.

async function forkEcho(): Promise<void> {
  process.on("message", (message) => process.send!(message));
  process.on("disconnect", () => process.exit(0));
  process.send!("ready");
}

async function natsEcho(url: string): Promise<void> {
  const nc = await connectWhenUp(url);
  const subscription = nc.subscribe("bench.echo");
  await nc.flush();
  process.send!("ready");
  process.on("disconnect", () => void nc.close().then(() => process.exit(0)));
  for await (const message of subscription) message.respond(message.data);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv[2] === "fork-echo") await forkEcho();
  else if (process.argv[2] === "nats-echo") await natsEcho(process.argv[3]!);
}

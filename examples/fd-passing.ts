/**
 * Handing TCP connections to worker processes: a front process accepts connections and passes
 * each accepted socket, as an open file descriptor, to one of several worker processes through
 * the hub. The workers answer the clients directly; the front never touches those bytes.
 *
 *   npx tsx examples/fd-passing.ts [--port 7000] [--workers 2] [--once N]
 *
 * Then, in another terminal: `echo hi | nc 127.0.0.1 7000` (each connection is answered by the
 * next worker, round robin). Ctrl-C stops the front and its workers. `--once N` serves N
 * connections and exits (the test uses it). `PORT`, `WORKERS` and `ONCE` may be set in the
 * environment instead.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { type AddressInfo, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { FileDescriptor, Hub, listenUnix, type UnixListener } from "beamhub";

/** The service every worker registers; the hub balances calls across its instances. */
const SERVICE = "worker.serve";
/** Workers must register within this time, or the front gives up. */
const STARTUP_TIMEOUT_MS = 15_000;
/** How long the hand-over of one connection may take before the front drops the client. */
const HANDOVER_TIMEOUT_MS = 5_000;
/** Workers finish their clients and exit within this time on shutdown, or they are killed. */
const WORKER_EXIT_TIMEOUT_MS = 8_000;

const workerScript = fileURLToPath(new URL("./fd-passing-worker.ts", import.meta.url));
const log = (line: string): void => console.log(`front: ${line}`);

interface Options {
  port: number;
  workers: number;
  /** Serve this many connections, then shut down (undefined: until a signal). */
  once: number | undefined;
}

/** Parses a whole number given on the command line or in the environment. */
function wholeNumber(value: string, what: string, min = 0): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < min)
    throw new Error(`${what} must be a whole number >= ${min}: ${value}`);
  return number;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: { port: { type: "string" }, workers: { type: "string" }, once: { type: "string" } },
  });
  const port = values.port ?? process.env.PORT ?? "0";
  const workers = values.workers ?? process.env.WORKERS ?? "2";
  const once = values.once ?? process.env.ONCE;
  return {
    port: wholeNumber(port, "--port"),
    workers: wholeNumber(workers, "--workers", 1),
    once: once === undefined ? undefined : wholeNumber(once, "--once"),
  };
}

/**
 * Starts a worker process. `--import tsx` lets it run the TypeScript source directly; a
 * compiled worker would just be `node worker.js <path>`.
 */
function spawnWorker(hubPath: string): ChildProcess {
  const worker = spawn(process.execPath, ["--import", "tsx", workerScript, hubPath], {
    stdio: ["ignore", "inherit", "inherit"],
  });
  worker.once("exit", (code, signal) => log(`worker ${worker.pid} exited (${signal ?? `code ${code}`})`));
  return worker;
}

/**
 * Resolves once `count` instances of the service are registered. Watching (rather than polling)
 * sees each registration as it happens; a worker that dies during startup fails the wait at once.
 */
async function waitForWorkers(
  hub: Hub,
  count: number,
  workers: ChildProcess[],
  stop: AbortSignal,
): Promise<string[]> {
  // The watch ends when startup takes too long, or when a signal asks the front to stop.
  const signal = AbortSignal.any([AbortSignal.timeout(STARTUP_TIMEOUT_MS), stop]);
  const watch = hub.watch({ name: SERVICE, signal });
  const died = new Promise<never>((_, reject) => {
    for (const worker of workers) {
      worker.once("exit", () => reject(new Error(`worker ${worker.pid} exited during startup`)));
    }
  });
  const registered = (async () => {
    const pids = new Map<string, string>(); // instance id -> worker pid
    for await (const event of watch) {
      if (event.type === "added") pids.set(event.service.id, event.service.labels.pid ?? "?");
      else pids.delete(event.service.id);
      if (pids.size >= count) return [...pids.values()];
    }
    throw new Error(
      stop.aborted
        ? "stopped during startup"
        : `the workers did not register within ${STARTUP_TIMEOUT_MS} ms`,
    );
  })();
  try {
    return await Promise.race([registered, died]);
  } finally {
    watch.close();
  }
}

/** Hands one accepted connection to a worker through the hub. */
async function handOver(hub: Hub, socket: Socket, number: number): Promise<void> {
  const from = `${socket.remoteAddress}:${socket.remotePort}`;
  try {
    // Sending the descriptor moves the connection to the worker and closes this process's copy.
    const { pid } = await hub.call<{ pid: number }>(
      SERVICE,
      { client: new FileDescriptor(socket) },
      { timeout: HANDOVER_TIMEOUT_MS },
    );
    log(`connection ${number} from ${from} -> worker ${pid}`);
  } catch (error) {
    // Nobody could take the client: hang up rather than leave it waiting.
    log(`connection ${number} from ${from} dropped: ${(error as Error).message}`);
    socket.destroy();
  }
}

/**
 * Accepts TCP connections and hands each one to a worker; with `once`, stops accepting after
 * that many and calls `onDone` once they are all handed over. `pauseOnConnect` keeps Node from
 * reading a socket it is about to give away: bytes read here would never reach the worker (and
 * the hand-over refuses a socket that holds unread data rather than lose it).
 */
function startFront(hub: Hub, once: number | undefined, onDone: () => void): Server {
  let accepted = 0;
  let handedOver = 0;
  const server = createServer({ pauseOnConnect: true }, (socket: Socket) => {
    const number = ++accepted;
    if (number === once) server.close(); // the last one is in: accept no more
    void handOver(hub, socket, number).finally(() => {
      if (++handedOver === once) onDone();
    });
  });
  return server;
}

/** Listens on 127.0.0.1 (only local clients in an example); rejects if the port is taken. */
function listen(server: Server, port: number): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      server.off("error", reject);
      resolve(server.address() as AddressInfo);
    });
  });
}

/** Resolves when `worker` has exited, killing it if it does not within the timeout. */
function stopWorker(worker: ChildProcess): Promise<void> {
  if (worker.exitCode !== null || worker.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => worker.kill("SIGKILL"), WORKER_EXIT_TIMEOUT_MS);
    worker.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** What the front has started so far, so that shutdown stops exactly that. */
interface Running {
  dir: string;
  hub: Hub;
  listener?: UnixListener;
  workers: ChildProcess[];
  front?: Server;
}

/**
 * Stops everything, in an order that loses no client: no new connections first; then closing
 * the hub listener ends the workers' sessions, which is their cue to finish the clients they
 * hold and exit; last the hub and its socket file.
 */
async function shutdown(running: Running): Promise<void> {
  log("shutting down");
  const front = running.front;
  if (front?.listening) await new Promise((resolve) => front.close(resolve));
  await running.listener?.close();
  await Promise.all(running.workers.map(stopWorker));
  await running.hub.close();
  await rm(running.dir, { recursive: true, force: true });
  log("stopped");
}

/** Resolves when `signal` aborts. */
function stopped(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });
}

/** Starts the hub, the workers and the TCP front, then serves until asked to stop. */
async function serve(running: Running, options: Options, stop: AbortController): Promise<void> {
  // The socket file is created with mode 0600: only this user's processes can join the hub.
  const listener = await listenUnix(running.hub, join(running.dir, "hub.sock"));
  running.listener = listener;
  log(`hub on unix:${listener.path}`);

  for (let i = 0; i < options.workers; i++) running.workers.push(spawnWorker(listener.path));
  const pids = await waitForWorkers(running.hub, options.workers, running.workers, stop.signal);
  log(`${pids.length} workers ready (pids ${pids.join(", ")})`);

  running.front = startFront(running.hub, options.once, () => stop.abort());
  const address = await listen(running.front, options.port);
  log(`listening on ${address.address}:${address.port}`);
  if (options.once === 0) stop.abort();
  await stopped(stop.signal);
}

async function main(): Promise<void> {
  let options: Options;
  try {
    options = parseOptions();
  } catch (error) {
    console.error(`${(error as Error).message}\nusage: fd-passing.ts [--port N] [--workers N] [--once N]`);
    process.exitCode = 2;
    return;
  }

  // Ctrl-C or SIGTERM asks for a clean stop. A second Ctrl-C kills the front at once; its
  // workers still exit, since their sessions with the hub end with it.
  const stop = new AbortController();
  process.once("SIGINT", () => stop.abort());
  process.once("SIGTERM", () => stop.abort());

  const dir = await mkdtemp(join(tmpdir(), "beamhub-fd-passing-"));
  const running: Running = { dir, hub: new Hub(), workers: [] };
  try {
    await serve(running, options, stop);
  } catch (error) {
    // Failing because a signal interrupted startup is not an error.
    if (!stop.signal.aborted) {
      log(`cannot start: ${(error as Error).message}`);
      process.exitCode = 1;
    }
  } finally {
    await shutdown(running);
  }
}

await main();

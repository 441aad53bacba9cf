// One nats-server process for tests and benches: Debian's nats-server (scripts/install-nats.sh
// installs it when missing), run in the foreground from a config file in a temp directory, on
// loopback ports. A node can be stopped, signalled (SIGKILL, SIGSTOP, ...) and restarted on the
// same ports and JetStream store, which is what failure tests need. nats-cluster.ts builds a
// cluster out of these.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { OrphanReaper } from "./orphan-reaper.js";
import { freePorts } from "./ports.js";

const INSTALL = fileURLToPath(new URL("../../scripts/install-nats.sh", import.meta.url));

/** What went wrong with a nats-server the harness runs. */
export type NatsHarnessErrorCode =
  /** nats-server is missing and could not be installed here. */
  | "NATS_UNAVAILABLE"
  /** A node did not start (exited, or did not accept connections in time). */
  | "NATS_START_FAILED"
  /** A node did not stop after SIGKILL. */
  | "NATS_STOP_FAILED"
  /** The cluster (or one node of it) did not become healthy in time. */
  | "NATS_NOT_HEALTHY"
  /** A replicated KV bucket could not be created in time. */
  | "NATS_KV_FAILED"
  /** The options given to the harness make no sense. */
  | "NATS_BAD_OPTIONS";

/** An error of the NATS test harness, with a `code` to tell the cases apart. */
export class NatsHarnessError extends Error {
  override readonly name = "NatsHarnessError";
  constructor(
    readonly code: NatsHarnessErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

let installing: Promise<{ path?: string; reason?: string }> | undefined;

/**
 * Installs nats-server when missing (once per process): its path, or the one-line reason it
 * cannot be had here (tests skip with that reason).
 */
export function installNatsServer(): Promise<{ path?: string; reason?: string }> {
  installing ??= new Promise((resolve) => {
    execFile("bash", [INSTALL], { encoding: "utf8", timeout: 300_000 }, (error, stdout, stderr) => {
      const path = stdout.trim().split("\n").at(-1);
      if (error || !path) resolve({ reason: (stderr.trim() || String(error)).split("\n").at(-1) });
      else resolve({ path });
    });
  });
  return installing;
}

/** The path of nats-server, installing it when missing; a NATS_UNAVAILABLE error if it cannot be. */
export async function natsServerPath(): Promise<string> {
  const installed = await installNatsServer();
  if (installed.path === undefined) {
    throw new NatsHarnessError("NATS_UNAVAILABLE", `nats-server is not available: ${installed.reason}`);
  }
  return installed.path;
}

/** Options of one nats-server (single or in a cluster). */
export interface NatsServerOptions {
  /** Runs JetStream (file store in the node's temp directory). Default true. */
  jetstream?: boolean;
  /** `max_payload` in bytes (nats-server's default is 1 MiB; at most 64 MiB). */
  maxPayload?: number;
  /** JetStream `max_mem` in bytes: a limit on memory streams, not an allocation. Default 256 MiB. */
  jetstreamMaxMemory?: number;
  /** JetStream `max_file` in bytes: a limit on file streams. Default 1 GiB. */
  jetstreamMaxFile?: number;
  /** How long a node may take to accept client connections after it was spawned. Default 20 s. */
  startTimeoutMs?: number;
  /** Extra lines for the config file (nats-server syntax), e.g. `debug: true`. */
  extraConfig?: string;
}

/** The ports and names of one node: fixed for its whole life, so that a restart keeps them. */
export interface NatsNodeLayout {
  /** `server_name`, e.g. "n1". */
  name: string;
  clientPort: number;
  monitorPort: number;
  /** The cluster route port, when in a cluster. */
  routePort?: number;
  /** The cluster this node belongs to, and the route ports of its peers. */
  cluster?: { name: string; peerRoutePorts: number[] };
}

/** One running (or stopped) nats-server. */
export interface NatsServer {
  /** `server_name`. */
  readonly name: string;
  /** The process id of the current process (it changes on restart); undefined while stopped. */
  readonly pid: number | undefined;
  /** Whether the process is alive (a SIGSTOPped process counts as alive). */
  readonly running: boolean;
  /** `nats://127.0.0.1:<port>`. */
  readonly url: string;
  readonly port: number;
  /** `http://127.0.0.1:<port>`, the monitoring endpoint (/healthz, /varz, /jsz, /routez). */
  readonly monitorUrl: string;
  /** The route port, when in a cluster. */
  readonly routePort: number | undefined;
  /** The config file and JetStream store of this node. */
  readonly dir: string;
  /** The last 256 KiB of the server's log (all its runs). */
  log(): string;
  /** Stops the server: SIGTERM (after SIGCONT, should it be stopped), SIGKILL after 5 s. */
  stop(): Promise<void>;
  /**
   * Sends `signal` (default SIGKILL). For signals that end the process (SIGKILL, SIGTERM,
   * SIGINT, SIGQUIT) resolves once it has exited (SIGKILL after 10 s, else a NATS_STOP_FAILED
   * error); for others (SIGSTOP, SIGCONT, SIGHUP for a reload) as soon as it is sent.
   */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /**
   * Starts the server again on the same ports, config and JetStream store (stopping it first if
   * it runs); resolves once it accepts connections.
   */
  restart(): Promise<void>;
}

const LOG_LIMIT = 256 * 1024;
const ENDING_SIGNALS = new Set<NodeJS.Signals>(["SIGKILL", "SIGTERM", "SIGINT", "SIGQUIT"]);

/** The config file of one node. */
export function natsConfig(layout: NatsNodeLayout, dir: string, options: NatsServerOptions): string {
  const lines = [
    `server_name: ${JSON.stringify(layout.name)}`,
    `listen: "127.0.0.1:${layout.clientPort}"`,
    `http: "127.0.0.1:${layout.monitorPort}"`,
    // Finds a dead client or route in ~2 × 2 s instead of the default 2 minutes.
    `ping_interval: "2s"`,
  ];
  if (options.maxPayload !== undefined) lines.push(`max_payload: ${options.maxPayload}`);
  if (options.jetstream ?? true) {
    lines.push(
      "jetstream {",
      `  store_dir: ${JSON.stringify(join(dir, "jetstream"))}`,
      `  max_mem: ${options.jetstreamMaxMemory ?? 256 * 1024 * 1024}`,
      `  max_file: ${options.jetstreamMaxFile ?? 1024 * 1024 * 1024}`,
      "}",
    );
  }
  if (layout.cluster !== undefined && layout.routePort !== undefined) {
    const routes = layout.cluster.peerRoutePorts.map((port) => `"nats-route://127.0.0.1:${port}"`);
    lines.push(
      "cluster {",
      `  name: ${JSON.stringify(layout.cluster.name)}`,
      `  listen: "127.0.0.1:${layout.routePort}"`,
      `  routes: [${routes.join(", ")}]`,
      "}",
    );
  }
  if (options.extraConfig !== undefined) lines.push(options.extraConfig);
  return `${lines.join("\n")}\n`;
}

/** Checks the options that nats-server would otherwise refuse with a less direct message. */
export function checkNatsOptions(options: NatsServerOptions): void {
  const { maxPayload } = options;
  if (
    maxPayload !== undefined &&
    !(Number.isSafeInteger(maxPayload) && maxPayload > 0 && maxPayload <= 64 * 1024 * 1024)
  ) {
    throw new NatsHarnessError(
      "NATS_BAD_OPTIONS",
      `maxPayload must be a whole number of bytes from 1 to 64 MiB (nats-server's limit), got ${maxPayload}`,
    );
  }
  for (const key of ["jetstreamMaxMemory", "jetstreamMaxFile", "startTimeoutMs"] as const) {
    const value = options[key];
    if (value !== undefined && !(Number.isSafeInteger(value) && value > 0)) {
      throw new NatsHarnessError("NATS_BAD_OPTIONS", `${key} must be a positive whole number, got ${value}`);
    }
  }
}

/**
 * A node process: spawned from its config, watched by `reaper` so that it dies with this process.
 * The config and store live in `dir`, which the caller removes.
 */
export class NatsNodeProcess implements NatsServer {
  readonly #binary: string;
  readonly #layout: NatsNodeLayout;
  readonly #options: NatsServerOptions;
  readonly #reaper: OrphanReaper;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #log = "";
  readonly dir: string;

  constructor(
    binary: string,
    layout: NatsNodeLayout,
    dir: string,
    options: NatsServerOptions,
    reaper: OrphanReaper,
  ) {
    this.#binary = binary;
    this.#layout = layout;
    this.#options = options;
    this.#reaper = reaper;
    this.dir = dir;
  }

  get name(): string {
    return this.#layout.name;
  }
  get pid(): number | undefined {
    return this.running ? this.#child?.pid : undefined;
  }
  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }
  get url(): string {
    return `nats://127.0.0.1:${this.#layout.clientPort}`;
  }
  get port(): number {
    return this.#layout.clientPort;
  }
  get monitorUrl(): string {
    return `http://127.0.0.1:${this.#layout.monitorPort}`;
  }
  get routePort(): number | undefined {
    return this.#layout.routePort;
  }
  get configFile(): string {
    return join(this.dir, "nats-server.conf");
  }
  log(): string {
    return this.#log;
  }

  /** Writes the config (first time only matters: it never changes) and spawns the server. */
  async start(): Promise<void> {
    if (this.running) return;
    await mkdir(this.dir, { recursive: true });
    await writeFile(this.configFile, natsConfig(this.#layout, this.dir, this.#options));
    const child = spawn(this.#binary, ["-c", this.configFile], { stdio: ["ignore", "pipe", "pipe"] });
    this.#child = child;
    const append = (chunk: Buffer): void => {
      this.#log += chunk.toString();
      if (this.#log.length > LOG_LIMIT) this.#log = this.#log.slice(-LOG_LIMIT);
    };
    child.stdout!.on("data", append);
    child.stderr!.on("data", append);
    let spawnError: Error | undefined;
    this.#exited = new Promise<void>((resolve) => {
      child.once("error", (error) => {
        spawnError = error;
        resolve();
      });
      child.once("exit", () => {
        if (child.pid !== undefined) this.#reaper.forget(child.pid);
        resolve();
      });
    });
    if (child.pid !== undefined) this.#reaper.watch(child.pid);
    const timeout = this.#options.startTimeoutMs ?? 20_000;
    const deadline = Date.now() + timeout;
    while (!(await accepts(this.#layout.clientPort))) {
      if (!this.running || spawnError !== undefined) {
        await this.#exited;
        throw new NatsHarnessError(
          "NATS_START_FAILED",
          `nats-server ${this.name} exited before accepting connections on ${this.url}: ${spawnError?.message ?? this.#lastLines()}`,
          { cause: spawnError },
        );
      }
      if (Date.now() > deadline) {
        await this.kill("SIGKILL");
        throw new NatsHarnessError(
          "NATS_START_FAILED",
          `nats-server ${this.name} did not accept connections on ${this.url} within ${timeout} ms: ${this.#lastLines()}`,
        );
      }
      await sleep(50);
    }
  }

  /** Whether the last start failed because a port was taken (worth retrying on other ports). */
  portWasTaken(): boolean {
    return /address already in use/i.test(this.#log);
  }

  stop(): Promise<void> {
    return this.#terminate();
  }

  async #terminate(): Promise<void> {
    if (!this.running) return;
    const child = this.#child!;
    child.kill("SIGCONT");
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    await this.#exited;
    clearTimeout(timer);
  }

  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    if (!this.running) return;
    const child = this.#child!;
    child.kill(signal);
    if (!ENDING_SIGNALS.has(signal)) return;
    // A stopped process does not act on SIGTERM until it is continued.
    if (signal !== "SIGKILL") child.kill("SIGCONT");
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await this.#exited;
    clearTimeout(timer);
  }

  async restart(): Promise<void> {
    await this.#terminate();
    this.#log += `\n--- restarted by the test harness ---\n`;
    await this.start();
  }

  #lastLines(): string {
    return this.#log.trim().split("\n").slice(-5).join(" | ") || "(no output)";
  }
}

/** A single nats-server; `stop()` also removes its temp directory. */
export interface SingleNatsServer extends NatsServer {
  /** Stops the server and removes its temp directory (safe to call twice). */
  stop(): Promise<void>;
}

/** A node that owns its temp directory and reaper: stopping it also removes them. */
class SingleNatsNode extends NatsNodeProcess {
  readonly #cleanup: () => Promise<void>;
  #cleaned = false;

  constructor(
    binary: string,
    layout: NatsNodeLayout,
    dir: string,
    options: NatsServerOptions,
    reaper: OrphanReaper,
    cleanup: () => Promise<void>,
  ) {
    super(binary, layout, dir, options, reaper);
    this.#cleanup = cleanup;
  }

  override async stop(): Promise<void> {
    await this.kill("SIGKILL");
    if (this.#cleaned) return;
    this.#cleaned = true;
    await this.#cleanup();
  }
}

/**
 * Starts one nats-server (JetStream on unless `jetstream: false`) on free loopback ports, in a
 * temp directory of its own; resolves once it accepts connections. Throws NATS_UNAVAILABLE when
 * nats-server is missing and cannot be installed (a test should skip then: see
 * {@link installNatsServer}).
 */
export async function startNatsServer(options: NatsServerOptions = {}): Promise<SingleNatsServer> {
  checkNatsOptions(options);
  const binary = await natsServerPath();
  const root = await mkdtemp(join(tmpdir(), "beamhub-nats-"));
  const reaper = new OrphanReaper();
  try {
    const node = await startWithFreePorts(async () => {
      const [clientPort, monitorPort] = await freePorts(2);
      const layout = { name: "n1", clientPort: clientPort!, monitorPort: monitorPort! };
      return new SingleNatsNode(binary, layout, join(root, "n1"), options, reaper, async () => {
        reaper.close();
        await rm(root, { recursive: true, force: true });
      });
    });
    return node;
  } catch (error) {
    reaper.close();
    await rm(root, { recursive: true, force: true });
    throw error;
  }
}

/**
 * Makes and starts a node; when its port was taken between choosing it and binding it (another
 * process got there first), tries again with new ports, up to 3 times.
 */
async function startWithFreePorts(make: () => Promise<NatsNodeProcess>): Promise<NatsNodeProcess> {
  for (let attempt = 1; ; attempt++) {
    const node = await make();
    try {
      await node.start();
      return node;
    } catch (error) {
      if (attempt >= 3 || !node.portWasTaken()) throw error;
    }
  }
}

/** Whether something accepts TCP connections on the loopback `port` (500 ms to answer). */
export function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    const done = (open: boolean): void => {
      socket.destroy();
      resolve(open);
    };
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
    socket.setTimeout(500, () => done(false));
  });
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * `LocalPortForward`: listens on a local TCP port and joins every connection to a hub service
 * (served by `exposeTcp`) — what `connectTcp` starts. It listens where `connectUnix` and
 * `connectHttps` dial: "connect" is what its clients do *through* it.
 */
import { createServer, type Server, type Socket } from "node:net";
import { ByteStream, type HubClient } from "../hub/index.js";
import { relaySockets, type SocketRelay } from "../fd/index.js";
import { parseListen, type TcpAddress } from "./address.js";
import { GatewayProtocolError } from "./errors.js";
import { handoffRoutes, listenHandoff, type HandoffServer } from "./handoff-socket.js";
import { resetSocket, spliceSocketStream, spliceSockets } from "./splice.js";
import type { GatewayLog } from "./types.js";
import { requestUpstream, type UpstreamOutcome } from "./upstream-request.js";

/**
 * How connections reach the service. `"handoff"`: the service's connected socket travels here as
 * an fd and bytes flow between the two sockets with no hub in the path (Unix transport or one
 * process only). `"relay"`: bytes travel over a hub byte stream (any transport). `"auto"`
 * (default): hand-off, and relay from then on if descriptors cannot travel.
 */
export type GatewayMode = "auto" | "handoff" | "relay";

/** Options of {@link connectTcp} (and {@link LocalPortForward.listen}). */
export interface ConnectTcpOptions {
  /** Where to listen: a port (on 127.0.0.1) or `"host:port"`; default a free loopback port. */
  listen?: string | number;
  /** How connections reach the service (default `"auto"`). */
  mode?: GatewayMode;
  /** Milliseconds the set-up call may take (default 15 000). */
  timeout?: number;
  /** Receives one line per failed connection, and one when `"auto"` settles on a mode. */
  log?: GatewayLog;
  /**
   * A Unix socket path to listen on for programs run with the hand-off library (`beamhub run`,
   * {@link handoffEnvironment}): their connections to this connector's address get the
   * upstream's connected socket itself, so no process of ours stays in the data path. Needs
   * descriptors to reach this client (a Unix hub, or one process); elsewhere the programs are
   * told to connect over TCP as usual.
   */
  handoffSocket?: string;
  /**
   * Receives the hand-off socket's failed requests (default: `log`). The library prints each on
   * the program's stderr too, so a caller that runs the program itself may drop them here.
   */
  handoffLog?: GatewayLog;
}

/** What a connector has done since it started (for status lines). */
export interface ConnectorStats {
  /** Connections accepted on the TCP port. */
  accepted: number;
  /** Connections whose upstream socket came here as an fd (joined here, or given to a program). */
  handedOver: number;
  /** Of those, the sockets given to programs through the hand-off socket. */
  toPrograms: number;
  /** Connections relayed over a byte stream. */
  relayed: number;
  /** Connections or hand-off requests that failed (each also logged). */
  failed: number;
}

/** A running local listener. */
export interface TcpConnector extends AsyncDisposable {
  /** Where it listens (the actual port when 0 was asked for). */
  readonly address: TcpAddress;
  /** The mode new connections use now (`"auto"` settles on the first connection). */
  readonly mode: GatewayMode;
  /** Connections currently open (those handed to programs are theirs, not counted). */
  readonly connections: number;
  /** Counts since it started; live, not a copy. */
  readonly stats: Readonly<ConnectorStats>;
  /**
   * With {@link ConnectTcpOptions.handoffSocket}: its path, and the `BEAMHUB_HANDOFF` entries
   * that send a program's connections to this connector's address there.
   */
  readonly handoff: { readonly path: string; readonly routes: readonly string[] } | undefined;
  /** Stops listening and destroys every open connection; idempotent. */
  close(): Promise<void>;
}

/**
 * A local TCP port forwarded to a hub service: every accepted connection becomes a call to the
 * service and is joined to the endpoint behind it, by fd hand-off (the hub leaves the data path)
 * or by relaying bytes over a byte stream. A failed call (an upstream that refuses, a missing
 * service) closes the accepted connection with a reset at once and logs a line. Start one with
 * {@link LocalPortForward.listen} or {@link connectTcp}.
 */
export class LocalPortForward implements TcpConnector {
  readonly #hub: HubClient;
  readonly #name: string;
  readonly #timeout: number;
  readonly #log: GatewayLog;
  readonly #server: Server;
  /** TCP clients, and upstream sockets joined to them with Node streams. */
  readonly #live = new Set<Socket>();
  /** Pairs joined in native threads: they own their sockets until they stop. */
  readonly #nativeRelays = new Set<SocketRelay>();
  readonly #stats: ConnectorStats = { accepted: 0, handedOver: 0, toPrograms: 0, relayed: 0, failed: 0 };
  #mode: GatewayMode;
  #address: TcpAddress;
  #handoffServer: HandoffServer | undefined;
  #handoff: TcpConnector["handoff"];
  #closing = false;
  #closed: Promise<void> | undefined;

  /**
   * Listens on `options.listen` (and on `options.handoffSocket`, if given) for connections to
   * service `name` on `hub`; resolves once both listen.
   *
   * ```ts
   * const db = await LocalPortForward.listen(hub, "db.main", { listen: "127.0.0.1:6432" });
   * // psql -h 127.0.0.1 -p 6432
   * ```
   */
  static async listen(
    hub: HubClient,
    name: string,
    options: ConnectTcpOptions = {},
  ): Promise<LocalPortForward> {
    const forward = new LocalPortForward(hub, name, options);
    await forward.#start(options);
    return forward;
  }

  private constructor(hub: HubClient, name: string, options: ConnectTcpOptions) {
    this.#hub = hub;
    this.#name = name;
    this.#timeout = options.timeout ?? 15_000;
    this.#log = options.log ?? (() => undefined);
    this.#mode = options.mode ?? "auto";
    this.#address = parseListen(options.listen);
    this.#server = createServer({ pauseOnConnect: true, allowHalfOpen: true }, (client) =>
      this.#accept(client),
    );
  }

  /** Where it listens (the actual port when 0 was asked for). */
  get address(): TcpAddress {
    return this.#address;
  }

  /** The mode new connections use now (`"auto"` settles on the first connection). */
  get mode(): GatewayMode {
    return this.#mode;
  }

  /** Connections currently open (those handed to programs are theirs, not counted). */
  get connections(): number {
    return this.#live.size + this.#nativeRelays.size;
  }

  /** Counts since it started; live, not a copy. */
  get stats(): Readonly<ConnectorStats> {
    return this.#stats;
  }

  /** With a hand-off socket: its path, and the `BEAMHUB_HANDOFF` entries that lead programs there. */
  get handoff(): TcpConnector["handoff"] {
    return this.#handoff;
  }

  /** Stops listening and destroys every open connection; idempotent. */
  close(): Promise<void> {
    return (this.#closed ??= (async () => {
      this.#closing = true;
      const stopped = new Promise<void>((resolve) => this.#server.close(() => resolve()));
      for (const socket of this.#live) socket.destroy();
      this.#live.clear();
      for (const native of this.#nativeRelays) native.stop();
      await Promise.all([stopped, this.#handoffServer?.close()]);
    })());
  }

  /** The same as {@link close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #start(options: ConnectTcpOptions): Promise<void> {
    const server = this.#server;
    const requested = this.#address;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(requested.port, requested.host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    server.on("error", (error) =>
      this.#log(`beamhub gateway ${this.#name}: listener error: ${describe(error)}`),
    );
    const bound = server.address();
    if (bound !== null && typeof bound === "object")
      this.#address = { host: bound.address, port: bound.port };
    if (options.handoffSocket === undefined) return;
    const handoffLog = options.handoffLog ?? this.#log;
    try {
      this.#handoffServer = await listenHandoff(
        options.handoffSocket,
        () => this.#supplyHandoff(),
        (line) => handoffLog(`beamhub gateway ${this.#name}: ${line}`),
      );
    } catch (error) {
      server.close();
      throw error;
    }
    const path = this.#handoffServer.path;
    this.#handoff = { path, routes: handoffRoutes(this.#address, path) };
  }

  #accept(client: Socket): void {
    if (this.#closing) return void client.destroy();
    this.#stats.accepted++;
    this.#live.add(client);
    client.on("error", () => undefined); // reported through the splice (a reset) or the close
    client.once("close", () => this.#live.delete(client));
    this.#serve(client).catch((error: unknown) => {
      this.#stats.failed++;
      this.#log(
        `beamhub gateway ${this.#name}: connection from ${client.remoteAddress}:${client.remotePort} failed: ${describe(error)}`,
      );
      resetSocket(client);
    });
  }

  async #serve(client: Socket): Promise<void> {
    // Decided by the mode at accept time: a concurrent connection may settle `mode` meanwhile.
    const asked = this.#mode;
    if (asked !== "relay") {
      const outcome = await this.#requestUpstream(asked === "auto");
      const handedOver = !(outcome instanceof ByteStream || outcome === "unsupported");
      this.#settle(handedOver);
      if (handedOver) {
        this.#stats.handedOver++;
        return this.#adopt(client, outcome);
      }
      // The upstream is connected already and its bytes come over this stream: use it.
      if (outcome instanceof ByteStream) {
        this.#stats.relayed++;
        return this.#relayOver(client, outcome);
      }
    }
    await this.#relay(client);
  }

  #requestUpstream(mayRelay: boolean): Promise<UpstreamOutcome> {
    return requestUpstream(this.#hub, this.#name, this.#timeout, mayRelay);
  }

  /** Records what a hand-off attempt showed, for `"auto"`. */
  #settle(handedOver: boolean): void {
    if (handedOver) {
      if (this.#mode !== "auto") return;
      this.#mode = "handoff";
      this.#log(
        `beamhub gateway ${this.#name}: descriptors travel here; handing connections over (the hub leaves the data path)`,
      );
    } else if (this.#mode !== "relay") {
      this.#mode = "relay";
      this.#log(
        `beamhub gateway ${this.#name}: file descriptors cannot travel to this client; relaying bytes instead`,
      );
    }
  }

  /** Hands the upstream's socket to a client of the hand-off socket, or says "use TCP". */
  async #supplyHandoff(): Promise<Socket | "use-tcp"> {
    const asked = this.#mode;
    if (asked === "relay" || this.#closing) return "use-tcp";
    let outcome: UpstreamOutcome;
    try {
      outcome = await this.#requestUpstream(asked === "auto");
    } catch (error) {
      this.#stats.failed++;
      throw error;
    }
    if (outcome instanceof ByteStream || outcome === "unsupported") {
      if (outcome instanceof ByteStream) outcome.reset(new GatewayProtocolError("relaying over TCP instead"));
      this.#settle(false);
      return "use-tcp";
    }
    this.#settle(true);
    this.#stats.handedOver++;
    this.#stats.toPrograms++;
    return outcome;
  }

  /** Joins a TCP client to the upstream socket handed over for it. */
  #adopt(client: Socket, upstream: Socket): void {
    if (this.#closing || client.destroyed) return void upstream.destroy();
    this.#live.add(upstream);
    upstream.on("error", (error: NodeJS.ErrnoException) =>
      this.#log(`beamhub gateway ${this.#name}: upstream connection failed: ${error.code ?? error.message}`),
    );
    void this.#joinSockets(client, upstream).finally(() => this.#live.delete(upstream));
  }

  /**
   * Joins the client to the handed-over upstream: in native threads when the addon is there
   * (the bytes never enter JavaScript), else with Node streams.
   */
  async #joinSockets(client: Socket, upstream: Socket): Promise<void> {
    let native: SocketRelay | undefined;
    try {
      native = relaySockets(client, upstream);
    } catch {
      native = undefined; // buffered data or no addon: Node streams can carry it
    }
    if (native === undefined) return spliceSockets(client, upstream);
    this.#live.delete(upstream); // detached: the native relay owns it now
    this.#nativeRelays.add(native);
    try {
      const result = await native.done;
      if (result.error !== undefined)
        this.#log(`beamhub gateway ${this.#name}: connection reset (${result.error})`);
    } finally {
      this.#nativeRelays.delete(native);
    }
  }

  /** Relays a client's bytes over a new byte stream to the service. */
  async #relay(client: Socket): Promise<void> {
    const [mine, theirs] = ByteStream.pair();
    try {
      await this.#hub.call(this.#name, { stream: theirs }, { timeout: this.#timeout });
    } catch (error) {
      mine.reset(error);
      throw error;
    }
    this.#stats.relayed++;
    await this.#relayOver(client, mine);
  }

  async #relayOver(client: Socket, stream: ByteStream): Promise<void> {
    if (this.#closing || client.destroyed)
      return stream.reset(new GatewayProtocolError("the client went away"));
    await spliceSocketStream(client, stream);
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === "string" && !error.message.includes(code)
      ? `${code}: ${error.message}`
      : error.message;
  }
  return String(error);
}

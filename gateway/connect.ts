/** `connectTcp`: a local TCP port whose connections reach a hub service. */
import { createServer, type Server, type Socket } from "node:net";
import { ByteStream, FileDescriptor, type HubClient } from "../hub/index.js";
import { relaySockets, type SocketRelay } from "../fd/index.js";
import { parseListen, type TcpAddress } from "./address.js";
import { GatewayProtocolError } from "./errors.js";
import { handoffRoutes, listenHandoff, type HandoffServer } from "./handoff-socket.js";
import { resetSocket, spliceSocketStream, spliceSockets } from "./splice.js";
import type { GatewayLog, GatewayReply } from "./types.js";

/**
 * How connections reach the service. `"handoff"`: the service's connected socket travels here as
 * an fd and bytes flow between the two sockets with no hub in the path (Unix transport or one
 * process only). `"relay"`: bytes travel over a hub byte stream (any transport). `"auto"`
 * (default): hand-off, and relay from then on if descriptors cannot travel.
 */
export type GatewayMode = "auto" | "handoff" | "relay";

/** Options of {@link connectTcp}. */
export interface ConnectTcpOptions {
  /** Where to listen: a port (on 127.0.0.1) or `"host:port"`; default a free loopback port. */
  listen?: string | number;
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
 * Listens on a local TCP port; every accepted connection becomes a call to service `name`
 * (served by {@link exposeTcp}) and is joined to the endpoint behind it. A failed call (an
 * upstream that refuses, a missing service) closes the accepted connection with a reset at once
 * and logs a line.
 *
 * ```ts
 * const db = await connectTcp(hub, "db.main", { listen: "127.0.0.1:6432" });
 * // psql -h 127.0.0.1 -p 6432
 * ```
 */
export async function connectTcp(
  hub: HubClient,
  name: string,
  options: ConnectTcpOptions = {},
): Promise<TcpConnector> {
  const listen = parseListen(options.listen);
  const timeout = options.timeout ?? 15_000;
  const log = options.log ?? (() => undefined);
  let mode: GatewayMode = options.mode ?? "auto";
  const live = new Set<Socket>();
  const nativeRelays = new Set<SocketRelay>();
  const stats: ConnectorStats = { accepted: 0, handedOver: 0, toPrograms: 0, relayed: 0, failed: 0 };
  let closing = false;

  /**
   * Asks for the upstream's connected socket. Resolves with it, or, when `mayRelay`, with
   * `"unsupported"` if descriptors cannot reach this client or with the byte stream a transport
   * without fd passing sent in the socket's place (the upstream is connected behind it).
   */
  const obtainSocket = async (mayRelay: boolean): Promise<Socket | "unsupported" | ByteStream> => {
    let reply: GatewayReply;
    try {
      reply = await hub.call<GatewayReply>(name, { handoff: true }, { timeout });
    } catch (error) {
      if (mayRelay && cannotCarryFds(error)) return "unsupported";
      throw error;
    }
    const descriptor = reply?.socket;
    if (descriptor instanceof ByteStream) {
      if (mayRelay) return descriptor;
      const error = new GatewayProtocolError(
        `file descriptors cannot travel to this client: service ${name}'s socket arrived as a byte stream (use mode "relay" or "auto")`,
      );
      descriptor.reset(error); // else the upstream connection would stay open behind it
      throw error;
    }
    if (!(descriptor instanceof FileDescriptor) || descriptor.kind !== "socket") {
      if (descriptor instanceof FileDescriptor) descriptor.close();
      throw new GatewayProtocolError(`service ${name} did not reply with a connected socket`);
    }
    return descriptor.take() as Socket;
  };

  /** Records what a hand-off attempt showed, for `"auto"`. */
  const settle = (handedOver: boolean): void => {
    if (handedOver) {
      if (mode !== "auto") return;
      mode = "handoff";
      log(
        `beamhub gateway ${name}: descriptors travel here; handing connections over (the hub leaves the data path)`,
      );
    } else if (mode !== "relay") {
      mode = "relay";
      log(`beamhub gateway ${name}: file descriptors cannot travel to this client; relaying bytes instead`);
    }
  };

  /** Hands the upstream's socket to a client of the hand-off socket, or says "use TCP". */
  const supplyHandoff = async (): Promise<Socket | "use-tcp"> => {
    const asked = mode;
    if (asked === "relay" || closing) return "use-tcp";
    let outcome: Awaited<ReturnType<typeof obtainSocket>>;
    try {
      outcome = await obtainSocket(asked === "auto");
    } catch (error) {
      stats.failed++;
      throw error;
    }
    if (outcome instanceof ByteStream || outcome === "unsupported") {
      if (outcome instanceof ByteStream) outcome.reset(new GatewayProtocolError("relaying over TCP instead"));
      settle(false);
      return "use-tcp";
    }
    settle(true);
    stats.handedOver++;
    stats.toPrograms++;
    return outcome;
  };

  /** Joins a TCP client to the upstream socket handed over for it. */
  const adopt = (client: Socket, upstream: Socket): void => {
    if (closing || client.destroyed) return void upstream.destroy();
    live.add(upstream);
    upstream.on("error", (error: NodeJS.ErrnoException) =>
      log(`beamhub gateway ${name}: upstream connection failed: ${error.code ?? error.message}`),
    );
    void joinSockets(client, upstream).finally(() => live.delete(upstream));
  };

  /**
   * Joins the client to the handed-over upstream: in native threads when the addon is there
   * (the bytes never enter JavaScript), else with Node streams.
   */
  const joinSockets = async (client: Socket, upstream: Socket): Promise<void> => {
    let native: SocketRelay | undefined;
    try {
      native = relaySockets(client, upstream);
    } catch {
      native = undefined; // buffered data or no addon: Node streams can carry it
    }
    if (native === undefined) return spliceSockets(client, upstream);
    live.delete(upstream); // detached: the native relay owns it now
    nativeRelays.add(native);
    try {
      const result = await native.done;
      if (result.error !== undefined) log(`beamhub gateway ${name}: connection reset (${result.error})`);
    } finally {
      nativeRelays.delete(native);
    }
  };

  const relay = async (client: Socket): Promise<void> => {
    const [mine, theirs] = ByteStream.pair();
    try {
      await hub.call(name, { stream: theirs }, { timeout });
    } catch (error) {
      mine.reset(error);
      throw error;
    }
    stats.relayed++;
    await relayOver(client, mine);
  };

  const relayOver = async (client: Socket, stream: ByteStream): Promise<void> => {
    if (closing || client.destroyed) return stream.reset(new GatewayProtocolError("the client went away"));
    await spliceSocketStream(client, stream);
  };

  const serve = async (client: Socket): Promise<void> => {
    // Decided by the mode at accept time: a concurrent connection may settle `mode` meanwhile.
    const asked = mode;
    if (asked !== "relay") {
      const outcome = await obtainSocket(asked === "auto");
      const handedOver = !(outcome instanceof ByteStream || outcome === "unsupported");
      settle(handedOver);
      if (handedOver) {
        stats.handedOver++;
        return adopt(client, outcome);
      }
      // The upstream is connected already and its bytes come over this stream: use it.
      if (outcome instanceof ByteStream) {
        stats.relayed++;
        return relayOver(client, outcome);
      }
    }
    await relay(client);
  };

  const server: Server = createServer({ pauseOnConnect: true, allowHalfOpen: true }, (client) => {
    if (closing) return void client.destroy();
    stats.accepted++;
    live.add(client);
    client.on("error", () => undefined); // reported through the splice (a reset) or the close
    client.once("close", () => live.delete(client));
    serve(client).catch((error: unknown) => {
      stats.failed++;
      log(
        `beamhub gateway ${name}: connection from ${client.remoteAddress}:${client.remotePort} failed: ${describe(error)}`,
      );
      resetSocket(client);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(listen.port, listen.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on("error", (error) => log(`beamhub gateway ${name}: listener error: ${describe(error)}`));
  const bound = server.address();
  const address: TcpAddress =
    bound !== null && typeof bound === "object" ? { host: bound.address, port: bound.port } : listen;
  let handoffServer: HandoffServer | undefined;
  if (options.handoffSocket !== undefined) {
    try {
      const handoffLog = options.handoffLog ?? log;
      handoffServer = await listenHandoff(options.handoffSocket, supplyHandoff, (line) =>
        handoffLog(`beamhub gateway ${name}: ${line}`),
      );
    } catch (error) {
      server.close();
      throw error;
    }
  }
  const handoffInfo =
    handoffServer === undefined
      ? undefined
      : { path: handoffServer.path, routes: handoffRoutes(address, handoffServer.path) };

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closed ??= (async () => {
      closing = true;
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of live) socket.destroy();
      live.clear();
      for (const native of nativeRelays) native.stop();
      await Promise.all([stopped, handoffServer?.close()]);
    })());
  return {
    address,
    get mode() {
      return mode;
    },
    get connections() {
      return live.size + nativeRelays.size;
    },
    handoff: handoffInfo,
    stats,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Whether a failed hand-off call failed only because descriptors cannot reach this client. */
function cannotCarryFds(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  if (code === "EFD_UNAVAILABLE") return true;
  return code === "EINVALID_MESSAGE" && /descriptor/i.test(String((error as Error).message));
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

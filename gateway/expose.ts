/** `exposeTcp`: a TCP endpoint served as a hub service. */
import type { Socket } from "node:net";
import {
  ByteStream,
  FileDescriptor,
  type CallContext,
  type HubClient,
  type Registration,
  type ServiceInfo,
} from "../hub/index.js";
import { GATEWAY_LABEL } from "../hub/dashboard/dashboard-snapshot.js";
import { parseTarget, type TcpAddress } from "./address.js";
import { GatewayProtocolError, UpstreamError } from "./errors.js";
import { resetSocket, spliceSocketStream } from "./splice.js";
import type { GatewayLog, GatewayReply, GatewayRequest } from "./types.js";
import { connectUpstream } from "./upstream.js";

/** Options of {@link exposeTcp}. */
export interface ExposeTcpOptions {
  /** Milliseconds to wait for the upstream to accept a connection (default 10 000; 0: no limit). */
  connectTimeout?: number;
  /** Labels of the registration (besides `beamhub.gateway: "tcp"`, which every exposure carries). */
  labels?: Record<string, string>;
  /** Whether callers may ask for the connected socket's fd (default true). */
  handoff?: boolean;
  /** Receives one line per failure (an upstream that cannot be reached, a relay that broke). */
  log?: GatewayLog;
}

/** What an exposure has done since it started (for status lines). */
export interface ExposureStats {
  /** Calls answered with the connected socket itself. */
  handedOver: number;
  /** Calls whose bytes are relayed over their byte stream. */
  relayed: number;
  /** Calls that failed (the upstream could not be reached, a malformed request). */
  failed: number;
}

/** A live exposure; closing it unregisters the service and tears down the relays it serves. */
export interface TcpExposure extends AsyncDisposable {
  /** The registered instance (the current one, after a reconnection registered it again). */
  readonly info: ServiceInfo;
  readonly target: TcpAddress;
  /** Relayed connections currently open. */
  readonly connections: number;
  /** Counts since it started; live, not a copy. */
  readonly stats: Readonly<ExposureStats>;
  /** Unregisters the service and destroys every relayed connection; idempotent. */
  close(): Promise<void>;
}

/**
 * Registers service `name` on `hub`; each call opens a TCP connection to `target`
 * (`tcp://host:port`). A call carrying `{ stream: ByteStream }` gets its bytes relayed to and
 * from the connection (reply `{ relayed: true }`); a call carrying `{ handoff: true }` gets the
 * connected socket itself (reply `{ socket: FileDescriptor }`), which over the Unix transport
 * travels to the caller so the data no longer passes through the hub. An endpoint that cannot be
 * reached fails the call with `EUPSTREAM` (host, port and errno in `details`).
 *
 * ```ts
 * await using db = await exposeTcp(hub, "db.main", "tcp://127.0.0.1:5432");
 * ```
 */
export async function exposeTcp(
  hub: HubClient,
  name: string,
  target: string,
  options: ExposeTcpOptions = {},
): Promise<TcpExposure> {
  const address = parseTarget(target);
  const connectTimeout = options.connectTimeout ?? 10_000;
  const allowHandoff = options.handoff ?? true;
  const log = options.log ?? (() => undefined);
  const live = new Set<Socket>();
  const stats: ExposureStats = { handedOver: 0, relayed: 0, failed: 0 };
  let closing = false;

  const handler = async (request: GatewayRequest, context: CallContext): Promise<GatewayReply> => {
    try {
      const reply = await serve(request, context);
      if (reply.relayed === true) stats.relayed++;
      else stats.handedOver++;
      return reply;
    } catch (error) {
      stats.failed++;
      throw error;
    }
  };

  const serve = async (request: GatewayRequest, context: CallContext): Promise<GatewayReply> => {
    const stream = request?.stream;
    const relay = stream instanceof ByteStream;
    if (!relay && !(request?.handoff === true && allowHandoff)) {
      throw new GatewayProtocolError(
        allowHandoff
          ? "a gateway call carries { stream: ByteStream } or { handoff: true }"
          : "a gateway call carries { stream: ByteStream } (fd hand-off is disabled)",
      );
    }
    let socket: Socket;
    try {
      socket = await connectUpstream(address, connectTimeout, context.signal);
    } catch (error) {
      if (relay) stream.reset(error);
      log(`beamhub gateway ${name}: ${(error as Error).message}`);
      throw error;
    }
    if (closing) {
      socket.destroy();
      if (relay) stream.reset(new UpstreamError({ ...address, errno: "ECANCELED" }));
      throw new UpstreamError({ ...address, errno: "ECANCELED" });
    }
    if (!relay) return { socket: new FileDescriptor(socket) };
    live.add(socket);
    socket.on("error", (error: NodeJS.ErrnoException) =>
      log(
        `beamhub gateway ${name}: upstream ${address.host}:${address.port}: ${error.code ?? error.message}`,
      ),
    );
    void spliceSocketStream(socket, stream).finally(() => live.delete(socket));
    return { relayed: true };
  };

  // The gateway label lets the hub's dashboard list the exposure among the gateway's connections.
  const labels = { [GATEWAY_LABEL]: "tcp", ...options.labels };
  const registration: Registration = await hub.register(name, handler, { labels });
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closed ??= (async () => {
      closing = true;
      for (const socket of live) resetSocket(socket);
      live.clear();
      await registration.unregister();
    })());
  return {
    // A getter: a reconnecting client registers the service again under a new id.
    get info() {
      return registration.info;
    },
    target: address,
    get connections() {
      return live.size;
    },
    stats,
    close,
    [Symbol.asyncDispose]: close,
  };
}

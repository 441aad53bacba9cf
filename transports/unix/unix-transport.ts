import { cborCodec, jsonCodec, type Codec } from "../../codecs/index.js";
import { WireConnection, type ByteTransport, type ConnectionOptions } from "../../wire/connection.js";
import { serveHubSession } from "../../wire/hub-server.js";
import { RemoteHub } from "../../wire/remote-hub.js";
import type { Hub } from "../../hub/hub.js";
import { unixDescriptors } from "./descriptors.js";
import { FdServer, FdSocket, type FdServerOptions } from "./fd/index.js";

/** Options of `listenUnix`. */
export interface UnixListenOptions {
  /** Permission bits of the socket file (default 0o600: only this user may connect). */
  mode?: number;
  /** Session limits (frame size, windows, channels, streams, pending fds). */
  limits?: Omit<ConnectionOptions, "role" | "codecs" | "descriptors">;
}

/** A hub listening on a Unix socket. */
export interface UnixListener {
  readonly path: string;
  /** Stops accepting and closes every session. */
  close(): Promise<void>;
}

/** The session protocol's view of an FdSocket. */
export function transportFor(socket: FdSocket): ByteTransport {
  return {
    supportsFds: true,
    // false above the socket's high-water mark (1 MiB); its 'drain' follows.
    write: (chunks, fds) => socket.write(chunks, fds),
    start: (handlers) => {
      socket.on("data", (data, fds) => handlers.data(data, fds));
      socket.on("error", (error) => handlers.closed(error));
      socket.on("close", () => handlers.closed());
      socket.on("drain", () => handlers.drain?.());
    },
    close: () => socket.end(),
    abort: () => socket.destroy(),
    flush: () => socket.flush(),
    get bufferedBytes() {
      return socket.writableLength;
    },
    pause: () => socket.pause(),
    resume: () => socket.resume(),
  };
}

function stripUrl(address: string): string {
  return address.startsWith("unix://") ? address.slice("unix://".length) : address;
}

/**
 * Serves `hub` on a Unix socket at `path` (or `unix:///path`): every process that connects
 * gets a session and can register, call, stream and pass file descriptors.
 */
export async function listenUnix(
  hub: Hub,
  path: string,
  options: UnixListenOptions = {},
): Promise<UnixListener> {
  const connections = new Set<WireConnection>();
  const serverOptions: FdServerOptions = {
    mode: options.mode ?? 0o600,
    batching: "microtask",
    onConnection: (socket) => {
      const connection = new WireConnection(transportFor(socket), {
        ...options.limits,
        role: "server",
        codecs: [cborCodec, jsonCodec],
        descriptors: unixDescriptors,
      });
      connections.add(connection);
      void connection.closed.then(() => connections.delete(connection));
      serveHubSession(hub, connection, { id: "unix", via: "unix" });
    },
  };
  const server = await FdServer.listen(stripUrl(path), serverOptions);
  return {
    path: server.path,
    close: async () => {
      await server.close();
      for (const connection of [...connections]) connection.close("the hub is shutting down");
    },
  };
}

/** Options of `connectUnix`. */
export interface UnixConnectOptions {
  /** Session limits, as for `listenUnix`. */
  limits?: UnixListenOptions["limits"];
  /** How long to keep trying while the hub's backlog is full (default 5000 ms). */
  timeoutMs?: number;
  /** Codecs to offer, most preferred first (default CBOR, then JSON). */
  codecs?: Codec[];
}

/** Connects to a hub listening on a Unix socket; resolves once the session is established. */
export async function connectUnix(path: string, options: UnixConnectOptions = {}): Promise<RemoteHub> {
  const socket = await FdSocket.connect(stripUrl(path), {
    timeoutMs: options.timeoutMs,
    batching: "microtask",
  });
  const connection = new WireConnection(transportFor(socket), {
    ...options.limits,
    role: "client",
    codecs: options.codecs ?? [cborCodec, jsonCodec],
    descriptors: unixDescriptors,
  });
  await connection.ready;
  return new RemoteHub(connection);
}

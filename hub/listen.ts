import { listenHttps, type HttpsListener, type ListenHttpsOptions } from "./remote/listen-https.js";
import type { UnixListener, UnixListenOptions } from "../transports/unix/unix-listener.js";
import type { Hub } from "./hub.js";
import { HubUrlError, parseHubUrl } from "./hub-url.js";
import { listenMemory } from "./remote/memory.js";
import { listenUnix } from "./remote/listen-unix.js";

/**
 * Options of {@link listen}: each transport takes those it understands and ignores the rest
 * (`mode`, `maxConnections`, `maxConnectionsPerUid` apply to a Unix socket; `cert`, `key`,
 * `certDir`, `ca`, `authenticate` to HTTPS; both take `keepAlive` and `handshakeTimeout`).
 * An HTTPS address's host and port are where it listens: they override `host` and `port`.
 */
export type ListenOptions = UnixListenOptions & ListenHttpsOptions;

/** A hub listening at an address, as {@link listen} returns it. */
export type HubListener =
  | {
      readonly scheme: "memory";
      /** `memory://NAME`, what `connect` takes. */
      readonly url: string;
      close(): Promise<void>;
    }
  | {
      readonly scheme: "unix";
      /** `unix:///path`, what `connect` takes. */
      readonly url: string;
      /** The Unix listener (connection counts). */
      readonly unix: UnixListener;
      close(): Promise<void>;
    }
  | {
      readonly scheme: "https";
      /** `https://host:port` with the port really bound, what `connect` takes. */
      readonly url: string;
      /** The HTTPS listener (its certificate, server and counts). */
      readonly https: HttpsListener;
      close(): Promise<void>;
    };

/**
 * Makes `hub` reachable at `url`, picking the transport by its scheme:
 * - `memory:` or `memory://NAME` — for `connect` in this process;
 * - `unix:///path` — a Unix socket (mode 0600 unless `mode` says otherwise);
 * - `https://host:port` (or `wss://`, the same listener) — HTTP/2 and WebSocket on one TLS
 *   port; port 0 takes any free port (see the listener's `url`).
 *
 * @throws {UnknownSchemeError} for another scheme; {@link HubUrlError} for a malformed address.
 *
 * @example
 * ```ts
 * const hub = new Hub();
 * const listener = await listen(hub, "unix:///run/user/1000/beamhub.sock");
 * const client = await connect(listener.url);
 * ```
 */
export async function listen(hub: Hub, url: string | URL, options: ListenOptions = {}): Promise<HubListener> {
  const target = parseHubUrl(url);
  switch (target.scheme) {
    case "memory": {
      const stop = listenMemory(hub, target.name);
      return { scheme: "memory", url: target.text, close: () => Promise.resolve(stop()) };
    }
    case "unix": {
      const unix = await listenUnix(hub, target.path, options);
      return { scheme: "unix", url: target.text, unix, close: () => unix.close() };
    }
    case "https":
    case "wss": {
      if (target.url.pathname !== "/" || target.url.search !== "" || target.url.hash !== "") {
        throw new HubUrlError(target.text, "has a path: a hub listens at the root of its host and port");
      }
      const host = target.url.hostname.replace(/^\[|\]$/g, "");
      const port = Number(target.url.port || 443);
      const https = await listenHttps(hub, { ...options, host, port });
      return { scheme: "https", url: https.url, https, close: () => https.close() };
    }
  }
}

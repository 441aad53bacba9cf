import { connectHttps, type ConnectHttpsOptions } from "./remote/connect-https.js";
import { memoryHubAt } from "./remote/memory.js";
import { connectUnix, type UnixConnectOptions } from "./remote/connect-unix.js";
import type { ConnectedHub } from "./remote/connected-hub.js";
import type { SessionOptions } from "./session.js";
import { parseHubUrl } from "./hub-url.js";

/**
 * Options of {@link connect}: each transport takes those it understands and ignores the rest
 * (`codecs`, `keepAlive`, `connectTimeout`, `reconnect` apply to Unix and HTTPS; `ca`, `cert`,
 * `token`, `transport` to HTTPS; `identity` and `maxCallTimeout` to a memory hub's session).
 */
export type ConnectOptions = UnixConnectOptions & ConnectHttpsOptions & SessionOptions;

/**
 * Connects to the hub at `url`, picking the transport by its scheme, and resolves once the
 * session is established:
 * - `memory:` or `memory://NAME` — a hub in this process that `listen(hub, "memory://NAME")`
 *   made reachable (`memory:` alone is `memory://default`); nothing is serialized.
 * - `unix:///path` — a hub on a Unix socket (with file descriptor passing);
 * - `https://host:port` — a hub served by `listenHttps` / `listen(hub, "https://...")`, over
 *   HTTP/2, falling back to a WebSocket where HTTP/2 does not get through;
 * - `wss://host:port` — the same hub over a WebSocket only.
 *
 * Whatever the transport, the result has the same methods ({@link ConnectedHub}).
 * @throws {UnknownSchemeError} for another scheme; {@link HubUrlError} for a malformed address.
 *
 * @example
 * ```ts
 * const hub = await connect("unix:///run/user/1000/beamhub.sock");
 * const reply = await hub.call("greeter", { name: "Ada" });
 * await hub.close();
 * ```
 */
export async function connect(url: string | URL, options: ConnectOptions = {}): Promise<ConnectedHub> {
  const target = parseHubUrl(url);
  switch (target.scheme) {
    case "memory":
      return memoryHubAt(target.name, options);
    case "unix":
      return connectUnix(target.path, options);
    case "https":
    case "wss":
      return connectHttps(target.url, options);
  }
}

import type { WireConnection } from "../../wire/connection.js";
import { dialUnix, verifyDialOptions, type UnixDialOptions } from "../../transports/unix/unix-dialer.js";
import { verifyReconnectOptions, type ReconnectOptions } from "./reconnect-options.js";
import { RemoteHub } from "./remote-hub.js";

/** Options of `connectUnix`. */
export interface UnixConnectOptions extends UnixDialOptions {
  /**
   * Reconnect when the hub goes away (default on: `RECONNECT_DEFAULTS`), registering the
   * client's services again and re-opening its watches; `false` turns it off. See `RemoteHub`.
   */
  reconnect?: ReconnectOptions | boolean;
}

/**
 * Connects to a hub listening on a Unix socket; resolves once the session is established, or
 * rejects with `ConnectTimeoutError` after `connectTimeout` (default 10 s). The client
 * reconnects to the same path when the hub goes away (unless `reconnect: false`), each attempt
 * with the same bound.
 *
 * @example
 * ```ts
 * const hub = await connectUnix("/run/user/1000/beamhub.sock");
 * console.log(await hub.call("greeter", { name: "Ada" }));
 * await hub.close();
 * ```
 */
export async function connectUnix(path: string, options: UnixConnectOptions = {}): Promise<RemoteHub> {
  verifyDialOptions(options);
  const reconnect = verifyReconnectOptions(options.reconnect);
  const dial = (): Promise<WireConnection> => dialUnix(path, options);
  return new RemoteHub(await dial(), { dial, reconnect });
}

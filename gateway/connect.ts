/** `connectTcp`: a local TCP port whose connections reach a hub service. */
import type { HubClient } from "../hub/index.js";
import { LocalPortForward, type ConnectTcpOptions } from "./local-port-forward.js";

export {
  LocalPortForward,
  type ConnectorStats,
  type ConnectTcpOptions,
  type GatewayMode,
  type TcpConnector,
} from "./local-port-forward.js";

/**
 * Listens on a local TCP port; every accepted connection becomes a call to service `name`
 * (served by {@link exposeTcp}) and is joined to the endpoint behind it. A failed call (an
 * upstream that refuses, a missing service) closes the accepted connection with a reset at once
 * and logs a line. The name says what the port's clients get: a connection to the service; the
 * {@link LocalPortForward} it returns is what listens for them.
 *
 * ```ts
 * const db = await connectTcp(hub, "db.main", { listen: "127.0.0.1:6432" });
 * // psql -h 127.0.0.1 -p 6432
 * ```
 */
export function connectTcp(
  hub: HubClient,
  name: string,
  options: ConnectTcpOptions = {},
): Promise<LocalPortForward> {
  return LocalPortForward.listen(hub, name, options);
}

import type { EndpointHandlers } from "../../transports/http2/acceptor.js";
import type { EndpointOptions } from "../../transports/http2/options.js";
import type { Hub } from "../hub.js";
import { httpApi } from "../http-api/http-api.js";
import { serveHubSession } from "./hub-server.js";

/** How a hub serves HTTP/2, WebSocket and plain HTTP peers (`attachHub`, `listenHttps`). */
export interface HubServerOptions extends EndpointOptions {
  /** Serve the plain HTTP mapping (`/beamhub/v1/call/<name>`, `/beamhub/v1/services`; default true). */
  httpApi?: boolean;
  /** Largest request body of the plain HTTP mapping (default 1 MiB; larger gets 413). */
  maxBodySize?: number;
}

/**
 * What the HTTPS endpoint hands its peers to when it serves `hub`: every session becomes a
 * session of the hub with the peer's identity, and plain requests go to the HTTP mapping
 * (unless `httpApi: false`).
 */
export function hubEndpointHandlers(hub: Hub, options: HubServerOptions = {}): EndpointHandlers {
  return {
    accept: (session, peer) =>
      serveHubSession(hub, session.connection, peer.identity, {
        transport: peer.transport === "websocket" ? "websocket" : "http2",
        remoteAddress: peer.remoteAddress,
      }),
    requests:
      options.httpApi === false
        ? undefined
        : httpApi(hub, options.maxBodySize === undefined ? {} : { maxBodySize: options.maxBodySize }),
  };
}

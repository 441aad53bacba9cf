import type { EndpointHandlers, PlainRequestHandler } from "../../transports/http2/acceptor.js";
import type { EndpointOptions } from "../../transports/http2/options.js";
import type { Hub } from "../hub.js";
import { dashboardRoutes, type DashboardOptions } from "../dashboard/dashboard-routes.js";
import { httpApi, type HttpApiOptions } from "../http-api/http-api.js";
import type { PubSubHttpOptions } from "../http-api/pubsub-sse.js";
import { serveHubSession } from "./hub-server.js";

/** How a hub serves HTTP/2, WebSocket and plain HTTP peers (`attachHub`, `listenHttps`). */
export interface HubServerOptions extends EndpointOptions {
  /** Serve the plain HTTP mapping (`/beamhub/v1/call/<name>`, `/beamhub/v1/services`; default true). */
  httpApi?: boolean;
  /** Largest request body of the plain HTTP mapping (default 1 MiB; larger gets 413). */
  maxBodySize?: number;
  /**
   * Limits of pub/sub over HTTP (`GET`/`POST /beamhub/v1/pubsub/<channel>`): event streams at
   * once (default 256), each one's ring of unsent messages (256, 1 MiB), keep-alive (15 s);
   * `false` turns pub/sub over HTTP off (it is on with the HTTP mapping by default).
   */
  pubsubHttp?: PubSubHttpOptions | false;
  /**
   * Serve the live dashboard at `/beamhub/ui` (default true): same listener, same
   * authentication; what a viewer sees follows the access rules (`hub.stats`, `hub.sessions`).
   * `false` turns it off; an object sets its limits.
   */
  dashboard?: boolean | DashboardOptions;
}

/**
 * What the HTTPS endpoint hands its peers to when it serves `hub`: every session becomes a
 * session of the hub with the peer's identity, and plain requests go to the HTTP mapping
 * (unless `httpApi: false`) and the dashboard (unless `dashboard: false`).
 */
export function hubEndpointHandlers(hub: Hub, options: HubServerOptions = {}): EndpointHandlers {
  const plain: PlainRequestHandler[] = [];
  if (options.httpApi !== false) {
    const api: HttpApiOptions = {};
    if (options.maxBodySize !== undefined) api.maxBodySize = options.maxBodySize;
    if (options.pubsubHttp !== undefined) api.pubsub = options.pubsubHttp;
    plain.push(httpApi(hub, api));
  }
  if (options.dashboard !== false) {
    plain.push(dashboardRoutes(hub, options.dashboard === true ? {} : (options.dashboard ?? {})));
  }
  return {
    accept: (session, peer) =>
      serveHubSession(hub, session.connection, peer.identity, {
        transport: peer.transport === "websocket" ? "websocket" : "http2",
        remoteAddress: peer.remoteAddress,
      }),
    requests: plain.length === 0 ? undefined : firstServing(plain),
  };
}

/** One handler made of several: each request goes to the first that serves its path. */
function firstServing(handlers: readonly PlainRequestHandler[]): PlainRequestHandler {
  if (handlers.length === 1) return handlers[0]!;
  return {
    serves: (path) => handlers.some((handler) => handler.serves(path)),
    serve: (request, url, response, peer) =>
      handlers.find((handler) => handler.serves(url.pathname))!.serve(request, url, response, peer),
    close: () => {
      for (const handler of handlers) handler.close?.();
    },
  };
}

import {
  listenHttpsSessions,
  type HttpsListener,
  type HttpsListenOptions,
} from "../../transports/http2/listen.js";
import type { Hub } from "../hub.js";
import { hubEndpointHandlers, type HubServerOptions } from "./https-handlers.js";

export type { HttpsListener };

/** Options of `listenHttps`: how the hub serves its peers, and the server's address and TLS. */
export interface ListenHttpsOptions extends HttpsListenOptions, HubServerOptions {}

/**
 * Serves `hub` over HTTPS on one port: HTTP/2 sessions, the WebSocket fallback (HTTP/1.1),
 * and the plain HTTP mapping for curl. TLS 1.3 by default; HTTP/2 windows and stream limits
 * tuned (transports/http2/tuning.ts).
 */
export function listenHttps(hub: Hub, options: ListenHttpsOptions = {}): Promise<HttpsListener> {
  return listenHttpsSessions(hubEndpointHandlers(hub, options), options);
}

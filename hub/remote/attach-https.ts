import type { Server as HttpsServer } from "node:https";
import type { Http2SecureServer } from "node:http2";
import { attachHttpsSessions, type AttachedEndpoint } from "../../transports/http2/attach.js";
import type { Hub } from "../hub.js";
import { hubEndpointHandlers, type HubServerOptions } from "./https-handlers.js";

/** A hub attached to a server; `detach()` gives the server back as it was. */
export type AttachedHub = AttachedEndpoint;

/**
 * Serves `hub` on an existing `http2.createSecureServer` (use `allowHTTP1: true` for the
 * WebSocket fallback and HTTP/1.1 clients) or `https.createServer` (WebSocket sessions and
 * the plain HTTP mapping only). Requests under `/beamhub/v1/` are beamhub's; every other
 * request and upgrade goes to the listeners the server already had, so REST routes keep
 * working side by side. Attach after adding your own `request` listeners. On an HTTP/2 server
 * it raises the stream window and `maxConcurrentStreams` (see transports/http2/tuning.ts).
 */
export function attachHub(
  hub: Hub,
  server: Http2SecureServer | HttpsServer,
  options: HubServerOptions = {},
): AttachedHub {
  return attachHttpsSessions(server, hubEndpointHandlers(hub, options), options);
}

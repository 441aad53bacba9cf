import type { PlainRequestHandler } from "../../transports/http2/acceptor.js";
import { CALL_PATH, PUBSUB_PATH, SERVICES_PATH } from "../../transports/http2/paths.js";
import { sendJson } from "../../transports/http2/http-replies.js";
import { targetUrl } from "../../transports/http2/request-target.js";
import type { Hub } from "../hub.js";
import { PubSubHttp, type PubSubHttpOptions } from "./pubsub-sse.js";
import { serveCall } from "./serve-call.js";
import { serveServices } from "./serve-services.js";

/** Options of the plain HTTP mapping. */
export interface HttpApiOptions {
  /** Largest request body (default 1 MiB; larger gets 413). */
  maxBodySize?: number;
  /**
   * Limits of pub/sub over HTTP (`/beamhub/v1/pubsub/<channel>`): streams, ring, keep-alive;
   * `false` turns it off (its requests get 404 `ENOT_FOUND` saying so).
   */
  pubsub?: PubSubHttpOptions | false;
}

/** The defaults of {@link HttpApiOptions}. */
export const HTTP_API_DEFAULTS = { maxBodySize: 1024 * 1024 } as const;

/**
 * The hub's plain HTTP mapping, for curl and friends: `POST /beamhub/v1/call/<name>` (one call,
 * JSON in and out), `GET /beamhub/v1/services`, and `/beamhub/v1/pubsub/<channel>` (`GET`
 * follows the channel as server-sent events, `POST` publishes a JSON body), each in a session of its own with the
 * request's identity, so the hub's access rules apply as to any session. The HTTPS endpoint
 * hands it the requests on its routes, already authenticated.
 */
export function httpApi(hub: Hub, options: HttpApiOptions = {}): PlainRequestHandler {
  const maxBodySize = options.maxBodySize ?? HTTP_API_DEFAULTS.maxBodySize;
  const pubsub =
    options.pubsub === false ? undefined : new PubSubHttp(hub, options.pubsub ?? {}, maxBodySize);
  return {
    serves: (path) => path === SERVICES_PATH || path.startsWith(CALL_PATH) || path.startsWith(PUBSUB_PATH),
    serve(request, url, response, peer) {
      // Pub/sub takes a URL (its requests are long-lived: one URL each costs nothing to speak of).
      if (url.pathname.startsWith(PUBSUB_PATH)) {
        if (pubsub !== undefined) return pubsub.serve(request, targetUrl(url), response, peer);
        sendJson(response, 404, {
          name: "NotFound",
          message: "pub/sub over HTTP is off on this hub (beamhub serve --pubsub-http on)",
          code: "ENOT_FOUND",
        });
        return Promise.resolve();
      }
      if (url.pathname === SERVICES_PATH)
        return serveServices(hub, url.searchParams, request, response, peer.identity, peer.remoteAddress);
      return serveCall(hub, url, request, response, peer.identity, maxBodySize, peer.remoteAddress);
    },
    close: () => pubsub?.close(),
  };
}

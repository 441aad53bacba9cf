import type { PlainRequestHandler } from "../../transports/http2/acceptor.js";
import { CALL_PATH, SERVICES_PATH } from "../../transports/http2/paths.js";
import type { Hub } from "../hub.js";
import { serveCall } from "./serve-call.js";
import { serveServices } from "./serve-services.js";

/** Options of the plain HTTP mapping. */
export interface HttpApiOptions {
  /** Largest request body (default 1 MiB; larger gets 413). */
  maxBodySize?: number;
}

/** The defaults of {@link HttpApiOptions}. */
export const HTTP_API_DEFAULTS = { maxBodySize: 1024 * 1024 } as const;

/**
 * The hub's plain HTTP mapping, for curl and friends: `POST /beamhub/v1/call/<name>` (one call,
 * JSON in and out) and `GET /beamhub/v1/services`, each in a session of its own with the
 * request's identity, so the hub's access rules apply as to any session. The HTTPS endpoint
 * hands it the requests on its routes, already authenticated.
 */
export function httpApi(hub: Hub, options: HttpApiOptions = {}): PlainRequestHandler {
  const maxBodySize = options.maxBodySize ?? HTTP_API_DEFAULTS.maxBodySize;
  return {
    serves: (path) => path === SERVICES_PATH || path.startsWith(CALL_PATH),
    serve(request, url, response, peer) {
      if (url.pathname === SERVICES_PATH)
        return serveServices(hub, url.searchParams, request, response, peer.identity);
      return serveCall(hub, url.pathname, url.searchParams, request, response, peer.identity, maxBodySize);
    },
  };
}

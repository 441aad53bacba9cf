/**
 * Who may read `/metrics` on the hub's HTTPS listener: the same peers who may read the hub's
 * figures over a session. The request is authenticated as any beamhub request (client
 * certificate, bearer token; with `requireAuth`, one of them is required) and the identity must
 * be allowed to call `hub.stats` by the hub's access rules.
 * @module
 */
import type { TLSSocket } from "node:tls";
import type { Hub } from "../hub/hub.js";
import { STATS_ACCESS } from "../hub/session.js";
import { identify } from "../transports/http2/authenticate.js";
import type { EndpointOptions } from "../transports/http2/options.js";
import { Refusal } from "../transports/http2/refusal.js";
import type { MetricsAuthorizer } from "./health-routes.js";

/** The authorizer of `/metrics` on an HTTPS listener of `hub` with these endpoint options. */
export function httpsMetricsAccess(
  hub: Hub,
  options: Pick<EndpointOptions, "authenticate" | "requireAuth">,
): MetricsAuthorizer {
  return async (request) => {
    let identity;
    try {
      identity = await identify(
        {
          headers: request.headers,
          socket: request.socket as TLSSocket,
          address: request.socket?.remoteAddress,
          query: undefined,
          transport: "http",
        },
        options,
      );
    } catch (error) {
      if (error instanceof Refusal) return { status: error.status, message: error.message };
      throw error;
    }
    if (!hub.identityMayCall(identity, STATS_ACCESS)) {
      const who = identity === undefined ? "an anonymous peer" : `identity "${identity.id}"`;
      return {
        status: 403,
        message: `forbidden: ${who} may not read /metrics (the access rules must let it call ${STATS_ACCESS}) (EFORBIDDEN)`,
      };
    }
    return true;
  };
}

/**
 * What `serve` shows of the running hub: session open/close and slow calls in the log,
 * Prometheus metrics with health and readiness routes (on the https listener and, with
 * `--metrics`, on a plain loopback listener).
 * @module
 */
import {
  healthRoutes,
  hubMetrics,
  httpsMetricsAccess,
  listenMetrics,
  type Authenticate,
  type Hub,
  type HubMetrics,
  type HttpsRefusal,
  type MetricsListener,
  type ReadinessCheck,
  type SessionInfo,
} from "../index.js";
import { CliError, EXIT } from "./errors.js";
import type { Logger } from "./logger.js";
import type { ObserveServeOptions } from "./serve-observe-options.js";

/** Logs sessions opening and closing and slow calls of `hub`; returns the function that stops it. */
export function logHubEvents(hub: Hub, logger: Logger): () => void {
  return hub.observe({
    sessionOpened(session) {
      // The hub's own session is no peer.
      if (session.transport === "local") return;
      logger.info({ event: "session.open", ...sessionFields(session) }, `session ${session.id} opened`);
    },
    sessionClosed(session, reason) {
      if (session.transport === "local") return;
      const traffic = session.traffic;
      logger.info(
        {
          event: "session.close",
          ...sessionFields(session),
          reason: reason?.message ?? "closed",
          durationMs: Date.now() - session.connectedAt,
          ...(traffic === undefined ? {} : { bytesIn: traffic.bytesIn, bytesOut: traffic.bytesOut }),
        },
        `session ${session.id} closed`,
      );
    },
    slowCall(call) {
      logger.warn(
        {
          event: "call.slow",
          service: call.service,
          instance: call.instance,
          caller: call.caller.sessionId,
          ...(call.caller.identity === undefined ? {} : { identity: call.caller.identity }),
          ms: Math.round(call.ms * 10) / 10,
          outcome: call.outcome,
        },
        `slow call to ${call.service}`,
      );
    },
  });
}

/**
 * Logs a refused HTTPS request (401/403; the listener rate-limits them) — beamhub's routes, or
 * a face on the same port (`face`: the Mles face, task sockets): who, what and why, as fields.
 * Never a header, a query or a credential: no reporter reports one (refusal-log.ts).
 */
export function logHttpsRefusal(logger: Logger): (refusal: HttpsRefusal) => void {
  return (refusal) => {
    const { status, code, reason, method, path, address, identity, transport, face, suppressed } = refusal;
    logger.warn(
      {
        event: "https.refused",
        status,
        ...(code === undefined ? {} : { code }),
        method,
        path,
        transport,
        ...(face === undefined ? {} : { face }),
        address: address ?? "?",
        identity: identity ?? "anonymous",
        reason,
        ...(suppressed === 0 ? {} : { suppressed }),
      },
      `https: ${face === undefined ? "" : `${face} `}refused ${method} ${path} (${status})` +
        (suppressed === 0 ? "" : ` (and ${suppressed} more like it since the last such line)`),
    );
  };
}

/** Who a session is, for a log line: never more than `SessionInfo` shows (nothing secret). */
function sessionFields(session: SessionInfo): Record<string, unknown> {
  const identity = session.identity;
  return {
    session: session.id,
    transport: session.transport,
    identity: identity?.id ?? "anonymous",
    ...(identity?.via === undefined ? {} : { via: identity.via }),
    ...(identity?.uid === undefined ? {} : { uid: identity.uid, gid: identity.gid }),
    // Not "pid": every pino line has the hub's own.
    ...(identity?.pid === undefined ? {} : { peerPid: identity.pid }),
    ...(session.remoteAddress === undefined ? {} : { address: session.remoteAddress }),
  };
}

/** The metrics and health routes of a running `serve`. */
export interface ServeMetrics {
  readonly metrics: HubMetrics;
  /** `/metrics`, `/healthz`, `/readyz` for the https listener (`/metrics` behind its auth). */
  httpsRoutes(auth: {
    authenticate: Authenticate | undefined;
    requireAuth: boolean;
  }): ReturnType<typeof healthRoutes>;
  /** Starts the plain loopback listener of `--metrics`, if asked for. */
  listen(options: ObserveServeOptions): Promise<MetricsListener | undefined>;
  /** Readiness fails from now on (the hub is stopping). */
  stopping(): void;
}

/** The metrics of `hub` and the routes that serve them, with `readiness` for `/readyz`. */
export function serveMetrics(hub: Hub, readiness: ReadinessCheck[]): ServeMetrics {
  const metrics = hubMetrics(hub);
  let stopping = false;
  // The same array: serve adds each listener's check once it listens.
  const checks = readiness;
  checks.unshift({ name: "hub", check: () => (stopping || hub.isClosed ? "shutting down" : true) });
  return {
    metrics,
    httpsRoutes: (auth) =>
      healthRoutes({
        registry: metrics.registry,
        readiness: checks,
        authorize: httpsMetricsAccess(hub, {
          ...(auth.authenticate === undefined ? {} : { authenticate: auth.authenticate }),
          requireAuth: auth.requireAuth,
        }),
      }),
    async listen(options) {
      if (options.metrics === undefined) return undefined;
      const { host, port } = options.metrics;
      try {
        return await listenMetrics(host, port, { registry: metrics.registry, readiness: checks });
      } catch (error) {
        throw new CliError(
          `cannot listen on http://${host}:${port} for --metrics: ${(error as Error).message}`,
          EXIT.failed,
          { cause: error },
        );
      }
    },
    stopping() {
      stopping = true;
    },
  };
}

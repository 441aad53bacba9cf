/**
 * `/metrics`, `/healthz` and `/readyz` as one request listener, for the hub's HTTPS listener
 * (`otherRequests`) and for the plain loopback listener of `beamhub serve --metrics`.
 *
 * - `/healthz`: 200 while the process runs and answers (liveness). No figures, no auth.
 * - `/readyz`: 200 when every readiness check passes (listeners up, later the broker or cluster
 *   link), else 503; the body names each check. No auth: it tells only what is up.
 * - `/metrics`: the Prometheus text of the registry; behind `authorize` when one is given.
 * @module
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import type { Registry } from "prom-client";
import { isReportedRefusal, noteRefusal } from "../transports/http2/refusal-log.js";

type Request = IncomingMessage | Http2ServerRequest;
type Response = ServerResponse | Http2ServerResponse;

/** One readiness check: its name and whether it passes now (a string: why not). */
export interface ReadinessCheck {
  readonly name: string;
  check(): true | string;
}

/** May this request read `/metrics`? `true`, or the HTTP status and message to refuse it with. */
export type MetricsAuthorizer = (request: Request) => Promise<true | { status: number; message: string }>;

/** Options of {@link healthRoutes}. */
export interface HealthRoutesOptions {
  /** The registry `/metrics` serves; without it `/metrics` is 404. */
  registry?: Registry;
  /** What `/readyz` checks (default: none, always ready). */
  readiness?: readonly ReadinessCheck[];
  /** Decides who reads `/metrics` (default: everyone who reaches the listener). */
  authorize?: MetricsAuthorizer;
}

/** The paths {@link healthRoutes} answers. */
export const HEALTH_PATHS = Object.freeze(["/metrics", "/healthz", "/readyz"]);

/**
 * A listener for `/metrics`, `/healthz` and `/readyz`: returns true when it took the request
 * (it answers it), false to leave it to the next listener.
 */
export function healthRoutes(
  options: HealthRoutesOptions = {},
): (request: Request, response: Response) => boolean {
  const readiness = options.readiness ?? [];
  return (request, response) => {
    const path = (request.url ?? "/").split("?")[0];
    if (path === undefined || !HEALTH_PATHS.includes(path)) return false;
    if (path === "/metrics" && options.registry === undefined) return false;
    if (request.method !== "GET" && request.method !== "HEAD") {
      reply(response, 405, `${path} answers GET\n`, { allow: "GET, HEAD" });
      return true;
    }
    if (path === "/healthz") {
      reply(response, 200, "ok\n");
      return true;
    }
    if (path === "/readyz") {
      const results = readiness.map((check) => {
        let verdict: true | string;
        try {
          verdict = check.check();
        } catch (error) {
          verdict = `check failed: ${(error as Error)?.message ?? String(error)}`;
        }
        return { name: check.name, verdict };
      });
      const ready = results.every((result) => result.verdict === true);
      const lines = results.map(({ name, verdict }) =>
        verdict === true ? `ok ${name}` : `fail ${name}: ${verdict}`,
      );
      reply(response, ready ? 200 : 503, `${[...lines, ready ? "ready" : "not ready"].join("\n")}\n`);
      return true;
    }
    void serveMetrics(options.registry!, options.authorize, request, response);
    return true;
  };
}

async function serveMetrics(
  registry: Registry,
  authorize: MetricsAuthorizer | undefined,
  request: Request,
  response: Response,
): Promise<void> {
  try {
    const verdict = authorize === undefined ? true : await authorize(request);
    if (verdict !== true) {
      if (isReportedRefusal(verdict.status))
        noteRefusal(response, {
          code: verdict.status === 401 ? "EUNAUTHENTICATED" : "EFORBIDDEN",
          reason: verdict.message,
        });
      reply(response, verdict.status, `${verdict.message}\n`);
      return;
    }
    const text = await registry.metrics();
    reply(response, 200, text, { "content-type": registry.contentType });
  } catch (error) {
    reply(response, 500, `cannot collect the metrics: ${(error as Error)?.message ?? String(error)}\n`);
  }
}

function reply(response: Response, status: number, body: string, headers: Record<string, string> = {}): void {
  if (response.headersSent) return;
  const all: Record<string, string> = {
    "content-type": "text/plain; charset=utf-8",
    "cache-control": "no-store",
    ...headers,
  };
  // The two response types share these methods, not a declared type.
  const plain = response as ServerResponse;
  plain.writeHead(status, all);
  plain.end(body);
}

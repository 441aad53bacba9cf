/**
 * The live dashboard at `/beamhub/ui` on the hub's HTTPS listener: a static page and one
 * server-sent event stream (`/beamhub/ui/events`) of snapshots. Both are plain requests of the
 * HTTPS endpoint, so they are authenticated exactly as the rest of `/beamhub/` (client
 * certificate, bearer token, `requireAuth`); the figures are read through a session with the
 * viewer's identity, so the hub's access rules decide what it sees: nothing without `hub.stats`
 * (403), no session list without `hub.sessions`, only the services it may call.
 * @module
 */
import type { PlainRequestHandler } from "../../transports/http2/acceptor.js";
import { sendError, sendJson, type ApiResponse } from "../../transports/http2/http-replies.js";
import { ForbiddenError, InvalidArgumentError } from "../../model/errors.js";
import type { Hub } from "../hub.js";
import type { Session } from "../session.js";
import type { Identity } from "../types.js";
import { dashboardAssets, isDashboardFile } from "./dashboard-assets.js";
import { DashboardFeed } from "./dashboard-snapshot.js";

/** Where the page lives. */
export const DASHBOARD_PATH = "/beamhub/ui";
/** The stream of snapshots (`text/event-stream`). */
export const DASHBOARD_EVENTS_PATH = `${DASHBOARD_PATH}/events`;

/** Options of the dashboard (`HubServerOptions.dashboard`). */
export interface DashboardOptions {
  /** Viewers (event streams) open at once; more get 503 `ELIMIT` (default 16). */
  maxViewers?: number;
  /** Refresh interval when the page asks for none, in ms (default 1000; a viewer may ask 250–60 000). */
  intervalMs?: number;
}

/** The defaults of {@link DashboardOptions}. */
export const DASHBOARD_DEFAULTS = { maxViewers: 16, intervalMs: 1000 } as const;

const MIN_INTERVAL_MS = 250;
const MAX_INTERVAL_MS = 60_000;

/**
 * What every answer of the page carries: it runs nothing from elsewhere, is never framed, and
 * sends no referrer (a dashboard URL may be private).
 */
const PAGE_HEADERS = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-cache",
} as const;

/** The parts of a response an event stream needs beyond a plain answer. */
interface StreamingResponse extends ApiResponse {
  write(chunk: string): boolean;
  once(event: "close" | "drain", listener: () => void): unknown;
}

/** The dashboard's routes, for the HTTPS endpoint (see `hubEndpointHandlers`). */
export function dashboardRoutes(hub: Hub, options: DashboardOptions = {}): PlainRequestHandler {
  const maxViewers = options.maxViewers ?? DASHBOARD_DEFAULTS.maxViewers;
  const intervalMs = options.intervalMs ?? DASHBOARD_DEFAULTS.intervalMs;
  if (!Number.isInteger(maxViewers) || maxViewers < 1)
    throw new InvalidArgumentError(`dashboard.maxViewers must be an integer >= 1, got ${maxViewers}`);
  checkInterval(intervalMs, "dashboard.intervalMs");
  let viewers = 0;
  return {
    serves: (path) => path === DASHBOARD_PATH || path.startsWith(`${DASHBOARD_PATH}/`),
    async serve(request, url, response, peer) {
      if (request.method !== "GET" && request.method !== "HEAD") {
        return sendJson(response, 405, { name: "MethodNotAllowed", message: "use GET", code: "EMETHOD" });
      }
      const path = url.pathname;
      if (path === DASHBOARD_EVENTS_PATH) {
        if (viewers >= maxViewers) {
          return sendJson(response, 503, {
            name: "LimitExceededError",
            message: `the dashboard serves at most ${maxViewers} viewers at once`,
            code: "ELIMIT",
          });
        }
        const interval = url.searchParams.has("interval")
          ? checkInterval(Number(url.searchParams.get("interval")), "interval")
          : intervalMs;
        viewers++;
        try {
          await streamSnapshots(
            hub,
            response as StreamingResponse,
            peer.identity,
            interval,
            peer.remoteAddress,
          );
        } finally {
          viewers--;
        }
        return;
      }
      const name =
        path === DASHBOARD_PATH || path === `${DASHBOARD_PATH}/`
          ? "index.html"
          : path.slice(DASHBOARD_PATH.length + 1);
      if (!isDashboardFile(name)) {
        return sendJson(response, 404, {
          name: "NotFound",
          message: `no dashboard file ${path}`,
          code: "ENOT_FOUND",
        });
      }
      const asset = dashboardAssets().get(name)!;
      response.writeHead(200, {
        ...PAGE_HEADERS,
        "content-type": asset.contentType,
        "content-length": asset.body.byteLength,
      });
      response.end(request.method === "HEAD" ? undefined : asset.body);
    },
  };
}

function checkInterval(ms: number, what: string): number {
  if (!Number.isInteger(ms) || ms < MIN_INTERVAL_MS || ms > MAX_INTERVAL_MS) {
    throw new InvalidArgumentError(
      `${what} must be a whole number of milliseconds from ${MIN_INTERVAL_MS} to ${MAX_INTERVAL_MS}, got ${ms}`,
    );
  }
  return ms;
}

/**
 * Sends a snapshot every `interval` ms until the viewer goes away or the hub closes. A viewer
 * that does not read is not buffered for: ticks are skipped until its connection drains.
 */
async function streamSnapshots(
  hub: Hub,
  response: StreamingResponse,
  identity: Identity | undefined,
  interval: number,
  remoteAddress: string | undefined,
): Promise<void> {
  const session = hub.session({ identity, peer: { transport: "http", remoteAddress } });
  const feed = new DashboardFeed();
  let first: string;
  try {
    first = await snapshotEvent(session, feed); // refused here (403) before the stream starts
  } catch (error) {
    void session.close();
    return sendError(response, error);
  }
  response.writeHead(200, {
    ...PAGE_HEADERS,
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-store",
  });
  // `retry` tells EventSource how long to wait before reconnecting after the stream ends.
  response.write(`retry: ${Math.max(interval, 1000)}\n\n${first}`);
  await new Promise<void>((resolve) => {
    let draining = false;
    let busy = false;
    const stop = (): void => {
      clearInterval(timer);
      void session.close();
      resolve();
    };
    const timer = setInterval(() => {
      if (hub.isClosed) {
        // EventSource-style clients retry after `retry` ms; this one ends cleanly now.
        response.end();
        stop();
        return;
      }
      if (draining || busy) return;
      busy = true;
      snapshotEvent(session, feed).then(
        (event) => {
          busy = false;
          if (response.writableFinished) return;
          if (!response.write(event)) {
            draining = true;
            response.once("drain", () => (draining = false));
          }
        },
        () => {
          // The hub closed (or the session went): the stream ends; EventSource retries later.
          response.end();
          stop();
        },
      );
    }, interval);
    response.once("close", stop);
  });
}

/** One snapshot as a server-sent event. */
async function snapshotEvent(session: Session, feed: DashboardFeed): Promise<string> {
  const [stats, instances, channels] = await Promise.all([
    session.stats(),
    session.instancesInfo(),
    session.channels(), // only those the viewer may subscribe to
  ]);
  const sessions = await session.sessionsInfo().catch((error: unknown) => {
    if (error instanceof ForbiddenError) return null;
    throw error;
  });
  return `event: snapshot\ndata: ${JSON.stringify(feed.next(stats, instances, sessions, channels))}\n\n`;
}

import { timingSafeEqual } from "node:crypto";
import { noteRefusal } from "../../transports/http2/refusal-log.js";
import { header, sendJson, sendText, type HttpRequest, type HttpResponse } from "./http-exchange.js";

/**
 * What a hub knows of the hubs connected to it: a federation's broker knows its sites
 * (`serveBroker` returns one of these). Samply.Beam's broker answers the same questions at
 * `/v1/health/proxies`.
 */
export interface ProxyHealth {
  /** The ids of the hubs connected now, sorted. */
  connected(): Promise<string[]>;
  /** One hub: connected now, gone since `lastDisconnect` (ms since the epoch), or never seen. */
  status(id: string): Promise<{ online: true } | { online: false; lastDisconnect: number } | undefined>;
}

const PROXY = /^\/v1\/health\/proxies\/([^/]+)$/;

/**
 * `GET /v1/health/proxies` (the hubs connected now, no credentials, as Samply's code does) and
 * `GET /v1/health/proxies/<id>` (Basic auth, any user, the monitoring key as password: 200 when
 * online, 503 with `last_disconnect` when it went away, 404 when never seen, 401 for a wrong
 * key, 501 when no key is configured). A hub that is no broker has no connected hubs.
 */
export async function serveProxyHealth(
  request: HttpRequest,
  response: HttpResponse,
  path: string,
  health: ProxyHealth | undefined,
  monitoringKey: string | undefined,
): Promise<boolean> {
  if (path === "/v1/health/proxies" || path === "/v1/health/proxies/") {
    if (request.method !== "GET") return methodNotAllowed(response);
    sendJson(response, 200, health === undefined ? [] : await health.connected());
    return true;
  }
  const match = PROXY.exec(path);
  if (match === null) return false;
  if (request.method !== "GET") return methodNotAllowed(response);
  if (monitoringKey === undefined || monitoringKey === "") {
    sendText(response, 501, "no monitoring key is configured (MONITORING_API_KEY)");
    return true;
  }
  if (!basicPasswordIs(header(request.headers, "authorization"), monitoringKey)) {
    noteRefusal(response, { code: "EUNAUTHORIZED", reason: "the monitoring key was missing or wrong" });
    sendText(response, 401, "", { "www-authenticate": 'Basic realm="beamhub monitoring"' });
    return true;
  }
  let id: string;
  try {
    id = decodeURIComponent(match[1]!);
  } catch {
    sendText(response, 400, "the hub id is not a valid URL path segment");
    return true;
  }
  const status = await health?.status(id);
  if (status === undefined) sendText(response, 404, "");
  else if (status.online) sendText(response, 200, "");
  else {
    const { lastDisconnect } = status;
    sendJson(response, 503, {
      last_disconnect: {
        secs_since_epoch: Math.floor(lastDisconnect / 1000),
        nanos_since_epoch: (lastDisconnect % 1000) * 1e6,
      },
    });
  }
  return true;
}

function methodNotAllowed(response: HttpResponse): true {
  sendText(response, 405, "", { allow: "GET" });
  return true;
}

/** Whether `authorization` is `Basic <base64(user:password)>` with this password (any user). */
function basicPasswordIs(authorization: string | undefined, key: string): boolean {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization ?? "");
  if (match === null) return false;
  const decoded = Buffer.from(match[1]!, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return false;
  const given = Buffer.from(decoded.slice(colon + 1));
  const expected = Buffer.from(key);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

import type { IncomingHttpHeaders } from "node:http";
import { InvalidArgumentError } from "../../model/errors.js";
import { TIMEOUT_HEADER } from "./paths.js";
import { Refusal } from "./refusal.js";

/** What the policy decided about one request's `Origin`. */
export interface OriginVerdict {
  /** The request's `Origin` header (undefined: not sent, so not a browser's cross-site request). */
  readonly origin: string | undefined;
  /** Headers the response carries: `Access-Control-Allow-Origin` for allow-listed origins. */
  readonly headers: Readonly<Record<string, string>>;
}

/** How long a browser may cache a preflight's answer (seconds). */
const PREFLIGHT_MAX_AGE = 600;

/**
 * Which web pages may drive the hub from a visitor's browser. A browser attaches `Origin` to
 * every cross-site POST and WebSocket upgrade, and without this check any page could make a
 * visitor's browser call services (a no-cors `fetch` needs no preflight) or open a session that
 * carries the visitor's client certificate. The rules:
 *
 * - no `Origin` header: not a browser's cross-site request (curl, the Node client): allowed;
 * - the hub's own origin (`https://` + the request's `Host`/`:authority`): a page the hub
 *   serves itself. A page on another site cannot claim it: the browser sets `Origin`, and a
 *   DNS-rebound name fails the TLS certificate check before any request is sent;
 * - an origin on the allow-list (`allowOrigins`, `--allow-origin`), or any when it holds `*`:
 *   allowed, and answered with `Access-Control-Allow-Origin` so the page may read the reply;
 * - anything else: refused with 403 `EORIGIN`.
 *
 * Credentials (`Access-Control-Allow-Credentials`) are never granted: an allowed page sends
 * its bearer token in `authorization`, which needs no ambient credential.
 */
export class OriginPolicy {
  readonly #allowed: ReadonlySet<string>;
  readonly #any: boolean;

  /** @throws InvalidArgumentError for an entry that is not an origin (`scheme://host[:port]`) or `*`. */
  constructor(allowOrigins: readonly string[] = []) {
    this.#any = allowOrigins.includes("*");
    this.#allowed = new Set(allowOrigins.filter((entry) => entry !== "*").map(normalizeOrigin));
  }

  /** The allow-list as given (normalized), for status lines. */
  get allowed(): readonly string[] {
    return this.#any ? ["*", ...this.#allowed] : [...this.#allowed];
  }

  /** Judges a request: returns the verdict, or throws a 403 `Refusal` for an origin not allowed. */
  check(headers: IncomingHttpHeaders): OriginVerdict {
    const origin = headerOf(headers.origin);
    if (origin === undefined) return { origin, headers: {} };
    if (this.#listed(origin)) return { origin, headers: allowHeaders(origin) };
    if (sameOrigin(origin, headers)) return { origin, headers: {} };
    throw new Refusal(
      403,
      "EORIGIN",
      `requests from the web origin ${JSON.stringify(origin.slice(0, 200))} are not allowed: ` +
        "the hub's operator may allow it with --allow-origin (listenHttps: allowOrigins)",
      "OriginNotAllowedError",
    );
  }

  /**
   * Answers an `OPTIONS` request: a CORS preflight from an allowed origin gets 204 with the
   * methods and headers the plain mapping takes; any other origin gets the 403 of `check`.
   * An `OPTIONS` without `Origin` (not a preflight) gets 204 and `allow`.
   */
  preflight(headers: IncomingHttpHeaders): { status: number; headers: Record<string, string> } {
    const verdict = this.check(headers);
    if (verdict.origin === undefined) return { status: 204, headers: { allow: "GET, POST, OPTIONS" } };
    return {
      status: 204,
      headers: {
        ...verdict.headers,
        "access-control-allow-methods": "GET, POST",
        "access-control-allow-headers": `authorization, content-type, last-event-id, ${TIMEOUT_HEADER}`,
        "access-control-max-age": String(PREFLIGHT_MAX_AGE),
        vary: "Origin",
      },
    };
  }

  #listed(origin: string): boolean {
    if (this.#any) return true;
    const normalized = tryNormalize(origin);
    return normalized !== undefined && this.#allowed.has(normalized);
  }
}

function allowHeaders(origin: string): Record<string, string> {
  return { "access-control-allow-origin": origin, vary: "Origin" };
}

/** `Origin` equals `https://` + the `Host` the browser addressed (HTTP/2: `:authority`). */
function sameOrigin(origin: string, headers: IncomingHttpHeaders): boolean {
  const host = headerOf(headers[":authority"]) ?? headerOf(headers.host);
  if (host === undefined) return false;
  const own = tryNormalize(`https://${host}`);
  return own !== undefined && own === tryNormalize(origin);
}

/**
 * `https://Hub.Example:443` → `https://hub.example`: the form a browser sends. Throws for
 * anything with a path, query, credentials or a scheme other than http/https.
 */
export function normalizeOrigin(text: string): string {
  const normalized = tryNormalize(text);
  if (normalized === undefined) {
    throw new InvalidArgumentError(
      `${JSON.stringify(text)} is not a web origin: give scheme://host[:port], e.g. https://app.example.com, or *`,
    );
  }
  return normalized;
}

function tryNormalize(text: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return undefined;
  const bare = url.pathname === "/" && url.search === "" && url.hash === "";
  if (!bare || url.username !== "" || url.password !== "") return undefined;
  return url.origin;
}

function headerOf(value: string | string[] | undefined): string | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  return text === undefined || text === "" ? undefined : text;
}

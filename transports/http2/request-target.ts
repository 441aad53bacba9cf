/**
 * The parts of a request's URL beamhub's routes read: the path and the query parameters. A URL
 * object satisfies it too.
 */
export interface RequestTarget {
  /** The path as a WHATWG `URL` resolves it (dot segments removed), without the query. */
  readonly pathname: string;
  /** The query's parameters. */
  readonly searchParams: URLSearchParams;
  /**
   * `?` and the query, or "" when there is none (so a route can skip parsing none); as in a
   * request, where `URL.search` escapes some characters.
   */
  readonly search: string;
}

/** The base a request's path is resolved against; only its path part is ever read. */
const BASE = "https://hub.invalid";

/**
 * Targets `new URL` takes as they are: printable ASCII only (no space or control character,
 * which `URL` strips or escapes), none of `"` (escaped), `#` (a fragment) or `\` (a separator in
 * a special URL).
 */
const PRINTABLE = /^[!$-[\]-~]*$/;
/**
 * Paths `new URL` gives back unchanged: a `/` not followed by another (`//host` is
 * scheme-relative), none of the characters it escapes in a path (`<>\`{}`).
 */
const PLAIN_PATH = /^\/(?!\/)[^<>`{}]*$/;
/** A dot segment's beginning (`/.`, `/%2e`): `URL` resolves those, so they take the slow path. */
const DOT_SEGMENT = /\/(?:\.|%2e)/i;

/**
 * A request's target (`request.url`: `/path?query`, or an absolute URL) parsed once per request,
 * with the same path and parameters as `new URL(target, base)`; `undefined` for one `URL` cannot
 * parse. The common target (printable ASCII, no dot segment) skips `URL` altogether — constructing
 * one was the endpoint's largest single cost per plain request (issue 19) — and its query is
 * parsed only when a route reads it.
 */
export function parseRequestTarget(target: string | undefined): RequestTarget | undefined {
  const text = target ?? "/";
  if (PRINTABLE.test(text)) {
    const query = text.indexOf("?");
    const pathname = query === -1 ? text : text.slice(0, query);
    if (PLAIN_PATH.test(pathname) && !DOT_SEGMENT.test(pathname))
      return new PlainTarget(pathname, query === -1 ? "" : text.slice(query));
  }
  try {
    return new URL(text, BASE);
  } catch {
    return undefined;
  }
}

/** `target` as a `URL` (for code that takes one): a plain target is parsed now. */
export function targetUrl(target: RequestTarget): URL {
  if (target instanceof URL) return target;
  const { pathname, searchParams } = target;
  const query = searchParams.toString();
  return new URL(query === "" ? pathname : `${pathname}?${query}`, BASE);
}

/** A plain target: its parameters parsed when first read. */
class PlainTarget implements RequestTarget {
  /** `?` and the query (`URLSearchParams` takes off one leading `?`, as `URL` does), or "". */
  #query: string;
  #parameters: URLSearchParams | undefined;

  constructor(
    readonly pathname: string,
    query: string,
  ) {
    this.#query = query;
  }

  get searchParams(): URLSearchParams {
    return (this.#parameters ??= new URLSearchParams(this.#query));
  }

  /** As `URL.search`: "" for a target that ends in a bare `?`, too. */
  get search(): string {
    return this.#query.length > 1 ? this.#query : "";
  }
}

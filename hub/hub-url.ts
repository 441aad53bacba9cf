/**
 * The addresses `connect(url)` and `listen(hub, url)` take, parsed into what each transport
 * needs: `memory:` / `memory://name`, `unix:///path`, `https://host:port`, `wss://host:port`.
 * @module
 */
import { BeamhubError } from "../base/error.js";

/** A hub address that cannot be used: malformed, or of a scheme no transport serves. */
export class HubUrlError extends BeamhubError {
  /** The address as given. */
  readonly url: string;

  constructor(url: string, why: string, code = "EURL", options?: { cause?: unknown }) {
    super(code, `hub address ${JSON.stringify(url)} ${why}`, options);
    this.url = url;
  }
}

/** A hub address whose scheme no transport serves (code `ESCHEME`). */
export class UnknownSchemeError extends HubUrlError {
  /** The scheme, without its colon (`"http"`, `"tcp"`, ...). */
  readonly scheme: string;

  constructor(url: string, scheme: string, hint = "") {
    super(
      url,
      `has the scheme ${scheme}:, which no transport serves; give memory:NAME, unix:///path, https://host:port or wss://host:port${hint}`,
      "ESCHEME",
    );
    this.scheme = scheme;
  }
}

/** Where a hub address points. */
export type HubUrl =
  | { readonly scheme: "memory"; readonly name: string; readonly text: string }
  | { readonly scheme: "unix"; readonly path: string; readonly text: string }
  | { readonly scheme: "https" | "wss"; readonly url: URL; readonly text: string };

/**
 * Parses a hub address.
 * @throws {UnknownSchemeError} for a scheme no transport serves.
 * @throws {HubUrlError} for an address without a scheme, a socket path or a host.
 */
export function parseHubUrl(address: string | URL): HubUrl {
  const text = String(address);
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(text)?.[1]?.toLowerCase();
  if (scheme === undefined) {
    throw new HubUrlError(
      text,
      "has no scheme: give memory:NAME, unix:///path, https://host:port or wss://host:port",
    );
  }
  const rest = text.slice(scheme.length + 1);
  switch (scheme) {
    case "memory": {
      const name = rest.replace(/^\/\//, "");
      return {
        scheme,
        name: name === "" ? "default" : name,
        text: `memory://${name === "" ? "default" : name}`,
      };
    }
    case "unix": {
      if (!rest.startsWith("//")) {
        throw new HubUrlError(
          text,
          "is not unix://PATH: a socket path follows two slashes, e.g. unix:///run/beamhub.sock",
        );
      }
      const path = rest.slice(2);
      if (path === "") throw new HubUrlError(text, "names no socket path");
      return { scheme, path, text: `unix://${path}` };
    }
    case "https":
    case "wss": {
      let url: URL;
      try {
        url = new URL(text);
      } catch (error) {
        throw new HubUrlError(text, "is not a valid URL", "EURL", { cause: error });
      }
      if (url.hostname === "") throw new HubUrlError(text, "has no host");
      return { scheme, url, text: `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, "")}` };
    }
    case "http":
    case "ws":
      throw new UnknownSchemeError(
        text,
        scheme,
        ` (a hub serves TLS only: ${scheme}s://${rest.replace(/^\/\//, "")})`,
      );
    default:
      throw new UnknownSchemeError(text, scheme);
  }
}

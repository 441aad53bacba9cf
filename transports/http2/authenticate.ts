import type { IncomingHttpHeaders } from "node:http";
import type { TLSSocket } from "node:tls";
import type { Identity } from "../../model/identity.js";
import type { EndpointOptions, PeerInfo } from "./options.js";
import { PUBSUB_PATH, TOKEN_PROTOCOL_PREFIX, TOKEN_QUERY, WEBSOCKET_PATH } from "./paths.js";
import { Refusal } from "./refusal.js";

/** What the server knows about a request when it decides who sent it. */
export interface PeerRequest {
  headers: IncomingHttpHeaders;
  /** The TLS socket (an HTTP/2 session's socket proxy is fine). */
  socket: TLSSocket | undefined;
  /** The client's address: the socket's, or `X-Forwarded-For`'s from a trusted proxy. */
  address: string | undefined;
  /**
   * The request's query string (`?a=b`) where it may carry a token (`access_token`, see
   * {@link takesQueryToken}); undefined elsewhere.
   */
  query: URLSearchParams | undefined;
  transport: PeerInfo["transport"];
  /**
   * Where the connection keeps what its client certificate proved between its requests
   * (`ConnectionFacts`): the certificate is then looked at on the connection's first request only.
   */
  connection?: { certificate?: Identity | null } | undefined;
}

/**
 * Who is on the other end: a client certificate verified against the server's `ca` gives
 * `{id: <subject CN>, via: "mtls"}`; otherwise a bearer token accepted by `authenticate` gives
 * `{via: "token"}`; otherwise nobody (`undefined`), which `requireAuth` refuses. A presented
 * but unverified certificate, or a refused token, is always refused: a peer never silently
 * becomes anonymous.
 *
 * Answers at once (or throws the `Refusal`) unless a token must be checked: a plain request
 * without a token costs no promise and no turn of the event loop (issue 19). A token is checked
 * on every request that carries one (it may have been revoked since the last).
 */
export function identify(
  request: PeerRequest,
  options: EndpointOptions,
): Identity | undefined | Promise<Identity | undefined> {
  const certificate = certificateOf(request);
  if (certificate !== undefined) return certificate;
  const token = tokenOf(request);
  if (token !== undefined) return identifyByToken(token, request, options);
  if (options.requireAuth) {
    throw new Refusal(
      401,
      "EUNAUTHENTICATED",
      "authentication required: present a client certificate signed by the hub's CA, or an `authorization: Bearer <token>` header",
    );
  }
  return undefined;
}

async function identifyByToken(
  token: string,
  request: PeerRequest,
  options: EndpointOptions,
): Promise<Identity> {
  if (options.authenticate === undefined) {
    throw new Refusal(401, "EUNAUTHENTICATED", "this hub accepts no bearer tokens");
  }
  const peer: PeerInfo = { remoteAddress: request.address, transport: request.transport };
  let found: Awaited<ReturnType<NonNullable<EndpointOptions["authenticate"]>>>;
  try {
    found = await options.authenticate(token, peer);
  } catch (error) {
    throw new Refusal(
      401,
      "EUNAUTHENTICATED",
      `the token was refused: ${(error as Error)?.message ?? error}`,
    );
  }
  if (found === undefined) throw new Refusal(401, "EUNAUTHENTICATED", "the bearer token was refused");
  return { ...found, via: found.via ?? "token" };
}

/**
 * The identity the connection's client certificate proves, looked at once per TLS 1.3
 * connection when it keeps its facts (TLS 1.2 may renegotiate a certificate mid-connection).
 */
function certificateOf(request: PeerRequest): Identity | undefined {
  const kept = request.connection?.certificate;
  if (kept !== undefined) return kept ?? undefined;
  const certificate = verifiedCertificate(request.socket);
  if (request.connection !== undefined && request.socket?.getProtocol?.() === "TLSv1.3")
    request.connection.certificate = certificate ?? null;
  return certificate;
}

function verifiedCertificate(socket: TLSSocket | undefined): Identity | undefined {
  if (socket === undefined || typeof socket.getPeerCertificate !== "function") return undefined;
  const certificate = socket.getPeerCertificate();
  if (certificate === null || certificate === undefined || Object.keys(certificate).length === 0)
    return undefined;
  if (!socket.authorized) {
    throw new Refusal(
      401,
      "EUNAUTHENTICATED",
      `the client certificate was not accepted: ${String(socket.authorizationError ?? "not verified")}`,
    );
  }
  const cn = certificate.subject?.CN as string | string[] | undefined;
  const id = Array.isArray(cn) ? cn[0] : cn;
  if (id === undefined || id === "") {
    throw new Refusal(401, "EUNAUTHENTICATED", "the client certificate has no subject common name");
  }
  return {
    id,
    via: "mtls",
    attributes: {
      fingerprint256: certificate.fingerprint256,
      serialNumber: certificate.serialNumber,
      issuer: certificate.issuer?.CN,
      validTo: certificate.valid_to,
    },
  };
}

/**
 * Whether a request may carry its bearer token in the `access_token` query parameter: only what
 * a browser opens without a way to set headers — the WebSocket, and `GET` of a pub/sub event
 * stream (`EventSource`). A URL is easily logged (proxies, browser history), so nowhere else;
 * the hub itself never logs a query.
 */
export function takesQueryToken(method: string | undefined, path: string): boolean {
  return path === WEBSOCKET_PATH || (method === "GET" && path.startsWith(PUBSUB_PATH));
}

function tokenOf(request: PeerRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header === "string") {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (match === null) {
      throw new Refusal(401, "EUNAUTHENTICATED", "the authorization header must be `Bearer <token>`");
    }
    return match[1];
  }
  const fromQuery = request.query?.get(TOKEN_QUERY);
  if (fromQuery !== null && fromQuery !== undefined && fromQuery !== "") return fromQuery;
  if (request.transport !== "websocket") return undefined;
  const protocols = request.headers["sec-websocket-protocol"];
  if (typeof protocols === "string") {
    for (const protocol of protocols.split(",")) {
      const trimmed = protocol.trim();
      if (trimmed.startsWith(TOKEN_PROTOCOL_PREFIX)) {
        return Buffer.from(trimmed.slice(TOKEN_PROTOCOL_PREFIX.length), "base64url").toString("utf8");
      }
    }
  }
  return undefined;
}

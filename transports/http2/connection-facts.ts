import type { IncomingMessage } from "node:http";
import type { Http2ServerRequest, ServerHttp2Stream } from "node:http2";
import type { TLSSocket } from "node:tls";
import type { Identity } from "../../model/identity.js";
import { connectionKey } from "./connection-guard.js";

/**
 * What the endpoint knows of the connection a request came on, kept from its first request to
 * its last: an HTTP/2 connection carries many requests, and reading these through the session's
 * socket proxy (a `Proxy`, each property a trap) on every request was a measurable part of the
 * endpoint's work per plain request (issue 19). None of it changes while the connection is open.
 */
export interface ConnectionFacts {
  /** The TLS socket (for HTTP/2 the session's socket proxy, which reads through to it). */
  readonly socket: TLSSocket | undefined;
  /** The connection guard's name for it (`connectionKey`). */
  readonly key: string | undefined;
  /** The socket's remote address (before any `X-Forwarded-For`). */
  readonly remoteAddress: string | undefined;
  /** The connection guard was told it is established: later requests need not tell it again. */
  established: boolean;
  /**
   * The identity its verified client certificate proves (`null`: it presented none), once known
   * on a TLS 1.3 connection, which cannot renegotiate another certificate. Never set for a
   * refused certificate: each request on such a connection is refused anew.
   */
  certificate?: Identity | null;
}

/** Keyed by the HTTP/2 session, or by the socket of an HTTP/1.1 connection. */
const known = new WeakMap<object, ConnectionFacts>();

/** The facts of `request`'s connection, gathered on its first request. */
export function connectionFactsOf(
  request: IncomingMessage | Http2ServerRequest | { readonly stream: ServerHttp2Stream },
): ConnectionFacts {
  const session = "stream" in request ? request.stream.session : undefined;
  const own = "socket" in request ? request.socket : undefined;
  const owner: object | undefined = session ?? own;
  const kept = owner === undefined ? undefined : known.get(owner);
  if (kept !== undefined) return kept;
  const socket = (session === undefined ? own : session.socket) as TLSSocket | undefined;
  const facts: ConnectionFacts = {
    socket,
    key: connectionKey(socket),
    remoteAddress: remoteAddressOf(socket),
    established: false,
  };
  if (owner !== undefined) known.set(owner, facts);
  return facts;
}

function remoteAddressOf(socket: TLSSocket | undefined): string | undefined {
  try {
    return socket?.remoteAddress;
  } catch {
    return undefined; // an HTTP/2 session's socket proxy throws once the session is gone
  }
}

/**
 * Who is on the other end of a session: established by the transport that carried it (a TLS
 * client certificate, a bearer token, a Unix peer's credentials) and handed up to whatever
 * serves the session. It lives below the transports because they produce it and the hub reads
 * it; neither owns it.
 */
export interface Identity {
  /** A stable name for the peer, e.g. a certificate subject or an API key's owner. */
  readonly id: string;
  /** How the identity was established: `"local"`, `"mtls"`, `"token"`, ... */
  readonly via: string;
  /** Anything else the authenticator knows (roles, groups, claims). */
  readonly attributes?: Readonly<Record<string, unknown>>;
}

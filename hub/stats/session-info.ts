/**
 * What the hub tells about a session (`hub.sessionsInfo()`, the `sessions` hub operation,
 * `beamhub sessions`): enough to tell which process, where from and who it is, and what it is
 * doing — never a secret (no token, no certificate, no identity attributes, which may hold claims).
 * @module
 */
import type { Identity } from "../../model/identity.js";
import type { WireTraffic } from "../../wire/connection.js";

/**
 * What carried a session: `"local"` (the hub's own, `hub.call` in its process), `"memory"`
 * (`hub.session()`, `connectMemory`), `"unix"`, `"http2"`, `"websocket"`, `"cluster"` (a link from another hub of a cluster),
 * `"http"` (a plain HTTP request of the curl mapping or pub/sub over HTTP: one per request or event stream).
 */
export type SessionTransport = "local" | "memory" | "unix" | "http2" | "websocket" | "cluster" | "http";

/** A wire session's traffic so far and what it has open now. */
export interface SessionTraffic extends WireTraffic {
  /** Channels open now (the root channel included). */
  channels: number;
  /** Byte streams open now. */
  streams: number;
  /** Received file descriptors not yet taken by a message. */
  pendingFds: number;
  /** Bytes written and not yet taken by the OS (a peer that reads slowly makes it grow). */
  unsentBytes: number;
  /** Whether reading from the peer is paused because it does not read what the hub sends. */
  readingPaused: boolean;
}

/** Who a session is, without anything secret. */
export interface IdentitySummary {
  readonly id: string;
  readonly via: string;
  /** A Unix peer's kernel credentials (uid, gid and pid of the process that connected). */
  readonly uid?: number;
  readonly gid?: number;
  readonly pid?: number;
  readonly user?: string;
}

/** One session as `hub.sessionsInfo()` shows it. */
export interface SessionInfo {
  /** The session id, as `ServiceInfo.sessionId` names it (`"s25"`). */
  readonly id: string;
  readonly transport: SessionTransport;
  /** The peer's address (`X-Forwarded-For`'s from a trusted proxy) over HTTP/2 and WebSocket. */
  readonly remoteAddress?: string;
  /** Who the peer is; absent for an anonymous peer. */
  readonly identity?: IdentitySummary;
  /** When the session opened, in milliseconds since the epoch. */
  readonly connectedAt: number;
  /** Instances this session registered and still serves. */
  readonly services: number;
  /** Calls this session made that wait for their reply. */
  readonly callsInFlight: number;
  /** Calls to this session's instances that wait for their reply. */
  readonly servingInFlight: number;
  /** Watches this session has open. */
  readonly watches: number;
  /** Bytes, frames and fds both ways, open channels and streams: sessions over a wire only. */
  readonly traffic?: SessionTraffic;
}

/** The parts of an identity a session view shows (see {@link IdentitySummary}). */
export function summarizeIdentity(identity: Identity | undefined): IdentitySummary | undefined {
  if (identity === undefined) return undefined;
  const unix = identity as Identity & { uid?: unknown; gid?: unknown; pid?: unknown; user?: unknown };
  return {
    id: identity.id,
    via: identity.via,
    ...(typeof unix.uid === "number" ? { uid: unix.uid } : {}),
    ...(typeof unix.gid === "number" ? { gid: unix.gid } : {}),
    ...(typeof unix.pid === "number" ? { pid: unix.pid } : {}),
    ...(typeof unix.user === "string" ? { user: unix.user } : {}),
  };
}

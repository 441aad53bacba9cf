/**
 * How the CLI shows the hub's figures (`sessions`, `ls --wide`, `info`, `top`): short units a
 * terminal column can hold.
 * @module
 */
import type { SessionInfo } from "../index.js";

/** `532 B`, `12.1 KiB`, `3.4 MiB`, `1.2 GiB`. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/** A latency: `0.04ms`, `3.2ms`, `120ms`, `2.5s`; `-` when unknown. */
export function formatMs(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return "-";
  if (ms >= 1000) return `${(ms / 1000).toFixed(1)}s`;
  if (ms >= 100) return `${Math.round(ms)}ms`;
  if (ms >= 1) return `${ms.toFixed(1)}ms`;
  return `${ms.toFixed(2)}ms`;
}

/** How long ago `since` (ms since the epoch) was: `45s`, `12m`, `3h`, `2d`. */
export function formatAge(since: number, now = Date.now()): string {
  const seconds = Math.max(0, Math.round((now - since) / 1000));
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 120) return `${minutes}m`;
  const hours = Math.round(minutes / 60);
  return hours < 48 ? `${hours}h` : `${Math.round(hours / 24)}d`;
}

/** Where a session comes from: the address, or a Unix peer's uid and pid. */
export function describePeer(session: SessionInfo): string {
  if (session.remoteAddress !== undefined) return session.remoteAddress;
  const identity = session.identity;
  if (identity?.uid !== undefined) {
    return `uid ${identity.uid}${identity.pid === undefined ? "" : ` pid ${identity.pid}`}`;
  }
  return session.transport === "local" ? "hub process" : session.transport === "memory" ? "in process" : "-";
}

/** Who a session is: its identity id, or `anonymous`. */
export function describeIdentity(session: SessionInfo): string {
  return session.identity === undefined ? "anonymous" : session.identity.id;
}

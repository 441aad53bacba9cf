import type { Http2Session, Settings } from "node:http2";

/**
 * HTTP/2 settings chosen on purpose (DESIGN.md measured the defaults: extra streams queue
 * silently after 100, and a 64 KiB stream window caps one stream at ~0.38 GB/s on loopback).
 * A session is one long-lived stream carrying every byte stream of the session, so its windows
 * (HTTP/2's, and the session protocol's own `streamWindow` above it) bound bulk throughput.
 * Measured with bench/http2.ts (README.md): 8/16 MiB beat 4/8 MiB for a beamhub byte stream
 * (0.98–1.04 vs 0.64–0.75 GB/s with 1 MiB session windows; 1.23–1.41 vs 1.02–1.22 with 4 MiB).
 */
export const HTTP2_TUNING = {
  /** Concurrent streams a peer may open on one connection: sessions plus plain HTTP calls. */
  maxConcurrentStreams: 1000,
  /** Receive window of every stream (SETTINGS_INITIAL_WINDOW_SIZE). */
  initialWindowSize: 8 * 1024 * 1024,
  /** Receive window of the whole connection (raised with a WINDOW_UPDATE on stream 0). */
  connectionWindowSize: 16 * 1024 * 1024,
  /** Largest HTTP/2 frame payload (SETTINGS_MAX_FRAME_SIZE; fewer frames per megabyte). */
  maxFrameSize: 256 * 1024,
  /** nghttp2's memory budget per session, in MB: above it new streams are refused. */
  maxSessionMemory: 64,
  /**
   * The session protocol's per-byte-stream receive window on HTTPS sessions (PROTOCOL.md
   * `streamWindow`; Unix sessions keep the protocol's 1 MiB). Bulk bytes wait for credit to
   * cross a network round trip, so a larger window moves them faster: bench/http2.ts measured
   * 1.15 vs 0.56 GB/s for one byte stream with 4 vs 1 MiB (bench/RESULTS.md). The cost is
   * memory: up to this many bytes may wait per stream for a slow reader, on each hop.
   */
  sessionStreamWindow: 4 * 1024 * 1024,
} as const;

/** The SETTINGS both sides announce. */
export function http2Settings(): Settings {
  return {
    maxConcurrentStreams: HTTP2_TUNING.maxConcurrentStreams,
    initialWindowSize: HTTP2_TUNING.initialWindowSize,
    maxFrameSize: HTTP2_TUNING.maxFrameSize,
    enablePush: false,
  };
}

/** Raises the connection-level receive window once the session exists. */
export function tuneSession(session: Http2Session): void {
  const raise = (): void => {
    try {
      session.setLocalWindowSize(HTTP2_TUNING.connectionWindowSize);
    } catch {
      // a session destroyed meanwhile keeps its window
    }
  };
  if (session.connecting) session.once("connect", raise);
  else raise();
}

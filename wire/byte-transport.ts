/**
 * The contract between a session and the byte connection it runs over: what every transport
 * (Unix socket, HTTP/2 stream, WebSocket, in-browser WebSocket) gives a `WireConnection`.
 * @module
 */

/**
 * A byte connection the session protocol runs over: a Unix socket (which can carry fds), a TLS
 * stream, a WebSocket. The connection batches frames itself; `write` receives whole batches.
 */
export interface ByteTransport {
  /** Whether file descriptors can travel on this connection. */
  readonly supportsFds: boolean;
  /**
   * What a descriptor in a message becomes when fds cannot travel on the session (this side
   * or the peer, whose HELLO said `fds: false`, cannot pass them):
   * - `"convert"`: a byte stream (PROTOCOL.md "Descriptors on network transports");
   * - `"refuse"`: the message fails with `FdUnavailableError` (`EFD_UNAVAILABLE`).
   *
   * Default: `"refuse"` when `supportsFds` (a Unix socket: descriptors travel as fds or not at
   * all), else `"convert"`. A Unix socket without the native addon says `"refuse"`.
   */
  readonly withoutFds?: "convert" | "refuse";
  /**
   * Sends `chunks` in order; `fds` travel with the first byte of the batch (ownership passes).
   * Returns false once the bytes written and not yet taken by the OS reached the transport's
   * high-water mark: it then calls `handlers.drain` when they are out. (A transport without
   * backpressure returns nothing.)
   */
  write(chunks: Uint8Array[], fds: number[]): boolean | void;
  /** Starts delivery; called once by the connection. */
  start(handlers: TransportHandlers): void;
  /**
   * Closes the connection after what was written; idempotent. A transport that can tell when
   * that is returns a promise that resolves once every byte written before has left this process
   * (taken by the OS), or was dropped because the connection failed or the peer stopped reading
   * (the Unix transport: `CLOSE_STALL_MS`). It never rejects.
   */
  close(): void | Promise<void>;
  /** Closes the connection now, dropping what was not sent (optional; else `close`). */
  abort?(): void;
  /** Puts what was written on the wire now rather than at the end of the turn (optional). */
  flush?(): void;
  /** Bytes written and not yet taken by the OS (optional). */
  readonly bufferedBytes?: number;
  /**
   * A count that grows each time the OS had room again for bytes it had refused: the peer read
   * some of what was sent (optional). The keep-alive takes it as a sign of life from a peer
   * that reads a backlog and so answers its PINGs late.
   */
  readonly writesUnblocked?: number;
  /**
   * True when the transport keeps no reference to the chunks it was given once
   * `bufferedBytes` is 0 (the OS copied them): the session may then write over their memory
   * instead of taking fresh memory for every batch. Unset: chunks are never written again.
   */
  readonly releasesChunks?: boolean;
  /** Stops delivering received bytes until `resume` (optional: the peer's writes back up). */
  pause?(): void;
  resume?(): void;
}

/** What a transport calls on its connection. */
export interface TransportHandlers {
  /** Bytes arrived, with any fds received alongside them (FIFO, see PROTOCOL.md "fds"). */
  data(chunk: Uint8Array, fds: readonly number[]): void;
  /** The connection closed (with the reason, if it failed). */
  closed(error?: Error): void;
  /** What was written after `write` returned false has been taken by the OS. */
  drain?(): void;
}

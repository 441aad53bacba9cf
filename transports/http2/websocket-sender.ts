/**
 * How the WebSocket session transport feeds its socket: a bounded amount at a time.
 * @module
 */
/**
 * Bytes handed to the socket at most at once; the rest of a batch waits here, uncopied.
 *
 * WHY: a TLS socket writes what it holds as one piece (Node hands a backlog of writes to TLS in
 * one `writev`) and reports it written only when the last byte left, so a 24 MiB batch to a peer
 * that reads 1 MB/s shows no progress for 24 s — the close would judge it stalled and the
 * keep-alive dead. Fed 256 KiB at a time, the socket says every 256 KiB that the peer took some.
 */
export const SOCKET_SHARE = 256 * 1024;

/**
 * The pieces of messages a WebSocket session sends, handed to a socket that says when it wrote
 * (`WebSocketPort.reportsWrites`) no faster than it writes them: {@link SOCKET_SHARE} at a time.
 * Counts what was given and not yet written (`buffered`) and what was written (`written`).
 */
export class PacedSender {
  /** Bytes given to `send` and not yet written by the socket. */
  buffered = 0;
  /** Bytes the socket has written so far (grows only). */
  written = 0;
  #inSocket = 0;
  /** Sizes of the pieces in the socket, oldest first (the socket writes them in order). */
  readonly #sizes: number[] = [];
  /** Pieces waiting for room in the socket, and whether each ends its message. */
  readonly #waiting: Uint8Array[] = [];
  readonly #fins: boolean[] = [];
  #whenHanded: (() => void) | undefined;

  /**
   * @param sendToSocket the port's `send`, which calls `written` once the socket wrote the piece
   * @param wrote called after each piece the socket wrote (`buffered` fell)
   */
  constructor(
    private readonly sendToSocket: (piece: Uint8Array, fin: boolean, written: () => void) => void,
    private readonly wrote: () => void,
  ) {}

  /** Sends `piece` (ending its message if `fin`) now, or once the socket has room. */
  send(piece: Uint8Array, fin: boolean): void {
    this.buffered += piece.byteLength;
    if (this.#waiting.length === 0 && this.#inSocket < SOCKET_SHARE) this.#hand(piece, fin);
    else {
      this.#waiting.push(piece);
      this.#fins.push(fin);
    }
  }

  /** Runs `then` once every piece waiting here is in the socket (at once if none waits). */
  whenHanded(then: () => void): void {
    if (this.#waiting.length === 0) then();
    else this.#whenHanded = then;
  }

  /** Forgets the waiting pieces (the connection is being dropped). */
  clear(): void {
    this.#waiting.length = 0;
    this.#fins.length = 0;
    this.#whenHanded = undefined;
  }

  #hand(piece: Uint8Array, fin: boolean): void {
    this.#inSocket += piece.byteLength;
    this.#sizes.push(piece.byteLength);
    this.sendToSocket(piece, fin, this.#written);
  }

  /** One callback for every piece (no closure per send). */
  readonly #written = (): void => {
    const bytes = this.#sizes.shift() ?? 0;
    this.#inSocket -= bytes;
    this.buffered -= bytes;
    this.written += bytes;
    while (this.#waiting.length > 0 && this.#inSocket < SOCKET_SHARE) {
      this.#hand(this.#waiting.shift()!, this.#fins.shift()!);
    }
    if (this.#waiting.length === 0 && this.#whenHanded !== undefined) {
      const then = this.#whenHanded;
      this.#whenHanded = undefined;
      then();
    }
    this.wrote();
  };
}

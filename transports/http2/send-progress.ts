/**
 * What the HTTPS session transports can tell of their sending: bytes handed to the kernel so far.
 * @module
 */

/**
 * Counts, for the keep-alive, the looks at which bytes had left the connection since the previous
 * look while this side's own bytes were held back by the peer: `ByteTransport.writesUnblocked`
 * for transports that cannot see the moment the OS has room again.
 *
 * WHY sampled: HTTP/2 and `ws` complete a batch of writes as a whole (a batch of many megabytes
 * leaves over seconds to a slow reader, with one callback at its end), but the bytes their socket
 * handed to the kernel grow all the while. Bytes leaving while ours wait means the peer reads (it
 * grants HTTP/2 window, its TCP window opens); a peer that is gone takes nothing once the kernel's
 * buffer is full, and a keep-alive PING alone never waits, so it proves nothing.
 */
export class SendProgress {
  #unblocked = 0;
  #lastSent: number;
  #wasWaiting = false;

  /**
   * @param sent bytes handed to the kernel so far (grows only)
   * @param waiting whether bytes of this side are held back (backpressure)
   */
  constructor(
    readonly sent: () => number,
    private readonly waiting: () => boolean,
  ) {
    this.#lastSent = sent();
  }

  /** Takes a look; the count grows when bytes left since the last look while ours waited. */
  look(): number {
    const sent = this.sent();
    if (this.#wasWaiting && sent > this.#lastSent) this.#unblocked++;
    this.#lastSent = sent;
    this.#wasWaiting = this.waiting();
    return this.#unblocked;
  }
}

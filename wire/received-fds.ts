import { Queue } from "../model/queue.js";
import type { DescriptorCodec } from "./config.js";
import { ProtocolError } from "./errors.js";
import { frameTypeName } from "./frame.js";

/** The fds of a frame that carries none. */
const NO_FDS: number[] = [];

/**
 * The fds a session received (PROTOCOL.md "File descriptors"): they queue FIFO as they arrive
 * (a read may bring a later frame's fds with an earlier frame's bytes), a frame declaring `n`
 * takes the next `n`, its references take them one by one, and whatever nobody took is closed,
 * never leaked.
 */
export class ReceivedFds {
  readonly #queue = new Queue<number>();
  /** The fds of the frame being dispatched (an entry becomes -1 once a reference took it). */
  #frame: number[] = NO_FDS;

  constructor(
    private readonly descriptors: DescriptorCodec | undefined,
    private readonly maxPending: number,
    /** Whether this side's HELLO said `fds: true`: otherwise no frame may declare fds. */
    private readonly announced: boolean,
  ) {}

  /** Received fds that wait for their frame. */
  get pending(): number {
    return this.#queue.length;
  }

  /** fds arrived with bytes: they wait for the frame that declares them. */
  receive(fds: readonly number[]): void {
    for (const fd of fds) this.#queue.push(fd);
    if (this.#queue.length > this.maxPending) {
      throw new ProtocolError("EFD_LIMIT", `more than ${this.maxPending} received fds wait for frames`);
    }
  }

  /** A frame declaring `count` fds is dispatched: it takes the next `count` (see `endFrame`). */
  beginFrame(type: number, count: number): void {
    if (!this.announced) {
      throw new ProtocolError(
        "EFD_UNEXPECTED",
        `${frameTypeName(type)} frame declares ${count} fds, but this side's HELLO said fds: false`,
      );
    }
    if (this.#queue.length < count) {
      throw new ProtocolError(
        "EFD_MISSING",
        `${frameTypeName(type)} frame declares ${count} fds but ${this.#queue.length} arrived`,
      );
    }
    const fds: number[] = [];
    for (let i = 0; i < count; i++) fds.push(this.#queue.shift()!);
    this.#frame = fds;
  }

  /** The frame is handled: fds it declared but no reference used are closed. */
  endFrame(): void {
    const fds = this.#frame;
    this.#frame = NO_FDS;
    for (const fd of fds) if (fd >= 0) this.discard(fd);
  }

  /** Takes the frame's fd at `index` (an fd reference), or undefined if it has none there. */
  take(index: number): number | undefined {
    const fd = this.#frame[index];
    if (fd === undefined || fd < 0) return undefined;
    this.#frame[index] = -1;
    return fd;
  }

  /** fds the frame being dispatched declared. */
  get frameCount(): number {
    return this.#frame.length;
  }

  /** Closes an fd nobody will use. */
  discard(fd: number): void {
    this.descriptors?.discard(fd);
  }

  /** The session ended: closes every fd still waiting for its frame. */
  closeAll(): void {
    for (const fd of this.#queue.drain()) this.discard(fd);
  }
}

import type { TransportHandlers } from "../wire/byte-transport.js";
import type { AbortableTransport } from "../wire/keep-alive.js";
import { LinkResetError } from "./errors.js";
import {
  creditBody,
  decodeLinkMessage,
  encodeLinkMessage,
  LINK_HEADER_BYTES,
  LinkMessageType,
  readCredit,
} from "./link-message.js";

/** How a link reaches the other hub: one NATS subject to publish on. */
export interface LinkWire {
  /** Publishes one link message to the other hub; throws when it cannot (NATS closed). */
  send(message: Uint8Array): void;
  /** The largest NATS message the server takes (its `max_payload`). */
  readonly maxPayload: number;
}

/** Sizes of a link's flow control. */
export interface LinkLimits {
  /**
   * Bytes one side may send before the other grants more (default 4 MiB). Far below the 64 MiB
   * at which nats-server cuts a slow consumer, so a busy link never triggers the cut.
   */
  window?: number;
  /** Largest DATA body (default 256 KiB, and always below the server's `max_payload`). */
  maxMessage?: number;
}

const DEFAULT_WINDOW = 4 * 1024 * 1024;
const DEFAULT_MAX_MESSAGE = 256 * 1024;
/** Room left under `max_payload` for NATS's own message headers. */
const PAYLOAD_HEADROOM = 4096;

/**
 * One side of a link between two hubs of a cluster: the byte connection a beamhub session runs
 * over, carried in NATS messages. It adds what NATS does not give:
 * - **order or reset**: every message is numbered, and a gap resets the link (`LinkResetError`),
 *   so a lost message fails what was on the link instead of corrupting it;
 * - **fragmentation**: writes are cut below the server's `max_payload`, so no message is refused
 *   for its size ("Maximum Payload Violation");
 * - **credit**: a side sends at most `window` bytes the other has not taken, so neither the
 *   server's buffers nor the receiver's grow without bound, and the slow-consumer cut (which
 *   drops messages) never comes.
 */
export class LinkTransport implements AbortableTransport {
  readonly supportsFds = false;
  /** File descriptors never leave their host: on a link they travel as byte streams. */
  readonly withoutFds: "convert" | "refuse";
  readonly #id: Uint8Array;
  readonly #peer: string;
  readonly #wire: LinkWire;
  readonly #maxMessage: number;
  readonly #window: number;
  #sendSeq = 0;
  #receiveSeq = 0;
  /** Bytes this side may still send. */
  #credit: number;
  /** Bytes written and waiting for credit. */
  readonly #queue: Uint8Array[] = [];
  #queued = 0;
  /** Bytes taken from the peer and not yet granted back. */
  #taken = 0;
  #handlers: TransportHandlers | undefined;
  /** What arrived before `start`, or while paused. */
  readonly #held: Uint8Array[] = [];
  #paused = false;
  #ending = false;
  #ended: { error?: Error } | undefined;
  #blocked = false;

  constructor(
    id: Uint8Array,
    peer: string,
    wire: LinkWire,
    options: LinkLimits & { withoutFds?: "convert" | "refuse" } = {},
  ) {
    this.#id = id;
    this.#peer = peer;
    this.#wire = wire;
    this.#window = options.window ?? DEFAULT_WINDOW;
    this.#credit = this.#window;
    this.#maxMessage = Math.max(
      1024,
      Math.min(
        options.maxMessage ?? DEFAULT_MAX_MESSAGE,
        wire.maxPayload - PAYLOAD_HEADROOM - LINK_HEADER_BYTES,
      ),
    );
    this.withoutFds = options.withoutFds ?? "convert";
  }

  /** The link's id as 16 hex digits. */
  get id(): string {
    return Buffer.from(this.#id).toString("hex");
  }

  get bufferedBytes(): number {
    return this.#queued;
  }

  /** Whether the link ended (closed, reset or aborted). */
  get ended(): boolean {
    return this.#ended !== undefined;
  }

  write(chunks: Uint8Array[]): boolean {
    if (this.#ended !== undefined || this.#ending) return false;
    for (const chunk of chunks) {
      if (chunk.byteLength === 0) continue;
      this.#queue.push(chunk);
      this.#queued += chunk.byteLength;
    }
    this.#pump();
    if (this.#queued > 0) this.#blocked = true;
    return this.#queued === 0;
  }

  start(handlers: TransportHandlers): void {
    this.#handlers = handlers;
    if (!this.#paused) this.#deliverHeld();
    if (this.#ended !== undefined) handlers.closed(this.#ended.error);
  }

  close(): void {
    if (this.#ended !== undefined || this.#ending) return;
    this.#ending = true;
    if (this.#queued === 0) this.#sendEnd();
  }

  abort(): void {
    this.reset("aborted by this hub");
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    this.#deliverHeld();
  }

  /** Ends the link with `why`, telling the other hub (best effort). */
  reset(why: string, cause?: unknown): void {
    if (this.#ended !== undefined) return;
    try {
      this.#send(LinkMessageType.RESET, new TextEncoder().encode(why));
    } catch {
      // NATS is gone too: the other hub finds out from its probes.
    }
    this.#end(new LinkResetError(this.#peer, why, cause));
  }

  /** Fails the link without telling the other hub (it is gone). */
  fail(error: Error): void {
    this.#end(error);
  }

  /** A message of this link arrived from the other hub. */
  receive(bytes: Uint8Array): void {
    if (this.#ended !== undefined) return;
    const message = decodeLinkMessage(bytes);
    if (message === undefined) {
      this.reset("a malformed link message arrived");
      return;
    }
    if (message.seq !== this.#receiveSeq) {
      this.reset(`message ${this.#receiveSeq} was lost (got ${message.seq})`);
      return;
    }
    this.#receiveSeq = (this.#receiveSeq + 1) >>> 0;
    switch (message.type) {
      case LinkMessageType.DATA:
        if (this.#handlers === undefined || this.#paused || this.#held.length > 0)
          this.#held.push(message.body);
        else this.#deliver(message.body);
        return;
      case LinkMessageType.CREDIT: {
        const granted = readCredit(message.body);
        if (granted === undefined) {
          this.reset("a malformed credit arrived");
          return;
        }
        this.#credit += granted;
        this.#pump();
        if (this.#blocked && this.#queued === 0) {
          this.#blocked = false;
          this.#handlers?.drain?.();
        }
        return;
      }
      case LinkMessageType.END:
        this.#end();
        return;
      case LinkMessageType.RESET:
        this.#end(
          new LinkResetError(this.#peer, `the other hub reset it: ${new TextDecoder().decode(message.body)}`),
        );
        return;
    }
  }

  #deliverHeld(): void {
    while (
      this.#held.length > 0 &&
      !this.#paused &&
      this.#ended === undefined &&
      this.#handlers !== undefined
    )
      this.#deliver(this.#held.shift()!);
  }

  #deliver(body: Uint8Array): void {
    this.#handlers!.data(body, []);
    this.#taken += body.byteLength;
    // Grant in quarters of the window: few credit messages, and the sender never waits long.
    if (this.#taken >= this.#window / 4 && this.#ended === undefined) {
      const granted = this.#taken;
      this.#taken = 0;
      this.#trySend(LinkMessageType.CREDIT, creditBody(granted));
    }
  }

  /** Sends what credit allows, in messages of at most `maxMessage` bytes. */
  #pump(): void {
    while (this.#queued > 0 && this.#credit > 0 && this.#ended === undefined) {
      const size = Math.min(this.#queued, this.#credit, this.#maxMessage);
      const body = this.#take(size);
      this.#credit -= size;
      if (!this.#trySend(LinkMessageType.DATA, body)) return;
    }
    if (this.#queued === 0 && this.#ending && this.#ended === undefined) this.#sendEnd();
  }

  /** The first `size` queued bytes as one body (copied only when they span chunks). */
  #take(size: number): Uint8Array {
    this.#queued -= size;
    const first = this.#queue[0]!;
    if (first.byteLength >= size) {
      if (first.byteLength === size) this.#queue.shift();
      else this.#queue[0] = first.subarray(size);
      return first.subarray(0, size);
    }
    const body = new Uint8Array(size);
    let filled = 0;
    while (filled < size) {
      const chunk = this.#queue[0]!;
      const part = Math.min(chunk.byteLength, size - filled);
      body.set(chunk.subarray(0, part), filled);
      filled += part;
      if (part === chunk.byteLength) this.#queue.shift();
      else this.#queue[0] = chunk.subarray(part);
    }
    return body;
  }

  #sendEnd(): void {
    if (this.#trySend(LinkMessageType.END)) this.#end();
  }

  /** Sends, or resets the link when NATS refuses (closed, or its reconnect buffer is full). */
  #trySend(type: LinkMessageType, body?: Uint8Array): boolean {
    try {
      this.#send(type, body);
      return true;
    } catch (error) {
      this.#end(new LinkResetError(this.#peer, `NATS refused a message: ${(error as Error).message}`, error));
      return false;
    }
  }

  #send(type: LinkMessageType, body?: Uint8Array): void {
    const message = encodeLinkMessage(type, this.#id, this.#sendSeq, body);
    this.#sendSeq = (this.#sendSeq + 1) >>> 0;
    this.#wire.send(message);
  }

  #end(error?: Error): void {
    if (this.#ended !== undefined) return;
    this.#ended = { error };
    this.#queue.length = 0;
    this.#queued = 0;
    this.#held.length = 0;
    this.#handlers?.closed(error);
  }
}

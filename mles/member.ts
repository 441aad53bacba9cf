import type { RawData, WebSocket } from "ws";
import type { Identity } from "../model/identity.js";
import { isLagged, type PubSub, type Subscription } from "../pubsub/index.js";
import { verifyChannelName } from "../pubsub/channel-name.js";
import { checkMlesAuth } from "./auth.js";
import {
  CLOSE,
  closeReason,
  MlesAuthError,
  MlesError,
  MlesForbiddenError,
  MlesHeaderError,
  MlesHeaderTimeoutError,
  MlesLaggedError,
} from "./errors.js";
import { FrameRate } from "./frame-rate.js";
import { frameOf, publicationOf, type MlesFrame } from "./frames.js";
import { parseMlesHeader, type MlesHeader } from "./header.js";
import type { MemberTable } from "./members.js";
import { mlesIdentity, mlesJoinIdentity } from "./identity.js";
import type { MlesConfig } from "./options.js";

const JOIN_PREFIX = "mles-join:";

/** What every member of one face shares. */
export interface MemberContext {
  readonly channels: PubSub;
  /** The hub's access rules. */
  readonly allows: (
    identity: Identity | undefined,
    action: "publish" | "subscribe",
    channel: string,
  ) => boolean;
  readonly members: MemberTable<MlesMember>;
  readonly config: MlesConfig;
  /** Reports a connection's end (it is then forgotten). */
  readonly ended: (member: MlesMember) => void;
  /**
   * Reports a member refused (auth, access rules, its uid already in the channel, a full channel,
   * pub/sub at a limit), as `identity` when a key vouched for it.
   */
  readonly refused?: (error: MlesError, identity: string | undefined) => void;
}

/**
 * Received frames whose publication is under way before the member stops reading (the socket
 * is paused, so a client that sends faster than the hub publishes is slowed by TCP, not
 * buffered here).
 */
const MAX_PENDING_PUBLISHES = 32;
/**
 * Bytes written to a member's socket and not yet flushed past which the pump waits for the
 * socket before taking more frames: beyond it frames wait in the member's ring, where the lag
 * policy bounds them, not in the socket's buffer. Below it sends take no callback (measured:
 * a callback per frame cost a third of the fan-out rate).
 */
const HIGH_WATER = 256 * 1024;
/** How long a closing connection may take to finish its close handshake before it is cut. */
const CLOSE_GRACE = 2000;

/**
 * One Mles connection, from its header to its end: the header within the deadline, auth, the
 * (uid, channel) rule, then history and live frames of the channel out, its own frames in.
 */
export class MlesMember {
  readonly #ws: WebSocket;
  readonly #context: MemberContext;
  #header: MlesHeader | undefined;
  #state: "header" | "member" | "closed" = "header";
  #headerTimer: NodeJS.Timeout | undefined;
  #pingTimer: NodeJS.Timeout | undefined;
  #closeTimer: NodeJS.Timeout | undefined;
  /** Set while the socket is paused for the frame rate. */
  #rateTimer: NodeJS.Timeout | undefined;
  readonly #rate: FrameRate | undefined;
  #alive = true;
  #chain: Promise<void> = Promise.resolve();
  #pending = 0;
  #flushed: (() => void) | undefined;
  #leave: (() => void) | undefined;
  /** The member's `mles:<uid>` identity once it joined, when a key vouched for the uid. */
  #identity: string | undefined;
  #subscription: Subscription | undefined;
  /** Settles when the connection has closed. */
  readonly closed: Promise<void>;

  constructor(ws: WebSocket, context: MemberContext) {
    this.#ws = ws;
    this.#context = context;
    this.closed = new Promise((resolve) => ws.once("close", () => resolve()));
    ws.on("message", (data, isBinary) => this.#received(data, isBinary));
    ws.on("pong", () => (this.#alive = true));
    ws.once("close", () => this.#end(undefined));
    // A protocol violation or an oversized frame: ws closes with 1002/1009 and reports it here.
    ws.on("error", () => this.#end(undefined));
    const { headerTimeout, pingInterval, maxFramesPerSecond } = context.config;
    this.#rate = maxFramesPerSecond > 0 ? new FrameRate(maxFramesPerSecond) : undefined;
    this.#headerTimer = setTimeout(
      () => this.close(new MlesHeaderTimeoutError(headerTimeout)),
      headerTimeout,
    );
    if (pingInterval > 0) this.#pingTimer = setInterval(() => this.#ping(), pingInterval);
  }

  /** The member's header once it joined. */
  get header(): MlesHeader | undefined {
    return this.#header;
  }

  /**
   * Ends the connection: with the failure's close code and `<code>: <message>` as the reason,
   * or 1001 when the face shuts down. Idempotent.
   */
  close(error?: MlesError): void {
    if (this.#state === "closed") return;
    this.#end(error);
  }

  #received(data: RawData, isBinary: boolean): void {
    this.#alive = true;
    if (this.#state === "closed") return;
    const payload = toBuffer(data);
    if (this.#state === "header") {
      this.#state = "member";
      clearTimeout(this.#headerTimer);
      this.#enqueue(() => this.#join(payload, isBinary));
      return;
    }
    this.#enqueue(() => this.#publish(publicationOf(payload, isBinary)));
    this.#limitRate();
  }

  /**
   * Over the frame rate, stops reading the socket until a frame may go again: the frame just
   * read (and any already in the socket's last chunk) still goes; TCP holds the rest.
   */
  #limitRate(): void {
    if (this.#rate === undefined || this.#rate.take() || this.#rateTimer !== undefined) return;
    this.#ws.pause();
    this.#rateTimer = setTimeout(() => {
      this.#rateTimer = undefined;
      if (this.#state !== "closed" && this.#pending < MAX_PENDING_PUBLISHES / 2) this.#ws.resume();
    }, this.#rate.wait());
  }

  /** Runs `task` after the member's earlier frames, so its frames publish in the order sent. */
  #enqueue(task: () => Promise<void>): void {
    this.#pending++;
    if (this.#pending >= MAX_PENDING_PUBLISHES && !this.#ws.isPaused) this.#ws.pause();
    this.#chain = this.#chain
      .then(() => (this.#state === "closed" ? undefined : task()))
      .catch((error: unknown) => {
        const failure = asMlesError(error);
        // Pub/sub at a limit (no channel idle to make room): the hub refused, not the client.
        if (failure.code === "ELIMIT") this.#refused(failure, this.#identity);
        this.close(failure);
      })
      .finally(() => {
        this.#pending--;
        // Resumed here unless the frame rate paused it: its timer resumes it then.
        if (this.#ws.isPaused && this.#rateTimer === undefined && this.#pending < MAX_PENDING_PUBLISHES / 2) {
          this.#ws.resume();
        }
      });
  }

  async #join(payload: Buffer, isBinary: boolean): Promise<void> {
    const header = parseMlesHeader(payload, isBinary);
    try {
      verifyChannelName(header.channel);
    } catch (error) {
      throw new MlesHeaderError(`channel: ${(error as Error).message}`, CLOSE.policy, { cause: error });
    }
    const refusal = checkMlesAuth(header.uid, header.channel, header.auth, this.#context.config.key);
    if (refusal !== undefined) throw this.#refused(new MlesAuthError(refusal), undefined);
    // The hub's access rules see a member as `mles:<uid>` when a key vouches for the uid, and
    // as anonymous otherwise (a uid alone proves nothing). A member both reads and writes.
    const identity: Identity | undefined =
      this.#context.config.key === undefined ? undefined : { id: mlesIdentity(header.uid), via: "mles" };
    const who = identity === undefined ? "an anonymous member" : identity.id;
    for (const [action, words] of [
      ["subscribe", "subscribe to"],
      ["publish", "publish to"],
    ] as const) {
      if (!this.#context.allows(identity, action, header.channel)) {
        throw this.#refused(new MlesForbiddenError(who, words, header.channel), identity?.id);
      }
    }
    try {
      this.#leave = this.#context.members.admit(header.uid, header.channel, this);
    } catch (error) {
      // The uid already a member of the channel (409), or the channel full (503).
      throw this.#refused(asMlesError(error), identity?.id);
    }
    this.#identity = identity?.id;
    this.#header = header;
    const { channels, config } = this.#context;
    const from = mlesIdentity(header.uid);
    // History first (the subscription replays it, then live frames, with no gap), then the
    // join frame itself goes into the channel — as Mles: later joiners see it, members do not.
    // What is newer than `historyEnd` is live: join frames among it are skipped.
    const historyEnd = channels.channels().find((channel) => channel.name === header.channel)?.seq ?? 0;
    const subscription = channels.subscribe(header.channel, from, {
      history: config.history,
      echo: false,
      lag: "drop-oldest",
      ring: config.ring,
    });
    this.#subscription = subscription;
    this.#pump(subscription, historyEnd).catch((error: unknown) => this.close(asMlesError(error)));
    await channels.publish(header.channel, payload.toString("utf8"), mlesJoinIdentity(header.uid));
  }

  /** Tells the face of a refusal for who the member is; returns the error to throw. */
  #refused(error: MlesError, identity: string | undefined): MlesError {
    this.#context.refused?.(error, identity);
    return error;
  }

  async #publish(data: string | Uint8Array): Promise<void> {
    await this.#context.channels.publish(this.#header!.channel, data, mlesIdentity(this.#header!.uid));
  }

  /** Sends the channel's frames to the client as fast as its connection takes them. */
  async #pump(subscription: Subscription, historyEnd: number): Promise<void> {
    for await (const item of subscription) {
      if (this.#state === "closed") return;
      if (isLagged(item)) throw new MlesLaggedError(item.lagged);
      if (item.seq > historyEnd && item.from.startsWith(JOIN_PREFIX)) continue;
      const frame = frameOf(item.data);
      if (frame !== undefined) await this.#send(frame);
    }
  }

  /**
   * Writes one frame. Past {@link HIGH_WATER} unflushed bytes, it waits for this frame's write
   * to complete (everything before it is then flushed too).
   */
  async #send(frame: MlesFrame): Promise<void> {
    const ws = this.#ws;
    if (ws.bufferedAmount < HIGH_WATER) return ws.send(frame.data, { binary: frame.binary });
    await new Promise<void>((resolve) => {
      this.#flushed = resolve;
      ws.send(frame.data, { binary: frame.binary }, () => {
        this.#flushed = undefined;
        resolve();
      });
    });
  }

  #ping(): void {
    if (!this.#alive) {
      this.#ws.terminate(); // two intervals without a word: the peer is gone
      return;
    }
    this.#alive = false;
    this.#ws.ping();
  }

  #end(error: MlesError | undefined): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    clearTimeout(this.#headerTimer);
    clearInterval(this.#pingTimer);
    clearTimeout(this.#rateTimer);
    this.#leave?.();
    this.#subscription?.close();
    const flushed = this.#flushed;
    this.#flushed = undefined;
    flushed?.();
    const ws = this.#ws;
    if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) {
      if (error === undefined) ws.close(CLOSE.goingAway, "the hub is shutting down");
      else ws.close(error.closeCode, closeReason(error));
      // A peer that never answers the close frame is cut after a grace period.
      this.#closeTimer = setTimeout(() => ws.terminate(), CLOSE_GRACE);
      ws.once("close", () => clearTimeout(this.#closeTimer));
    }
    this.#context.ended(this);
  }
}

/** Pub/sub failures that pass: the hub is at a limit, or a slow reader held a publication up. */
const TRY_AGAIN = new Set(["ELIMIT", "EPUBLISH_TIMEOUT"]);

/**
 * Any failure as the close it causes: an Mles error as itself, a passing pub/sub failure as
 * 1013 (try again later), anything else as 1011 (internal error); the reason keeps its code.
 */
function asMlesError(error: unknown): MlesError {
  if (error instanceof MlesError) return error;
  const code = (error as { code?: unknown })?.code;
  const known = typeof code === "string" ? code : "EINTERNAL";
  return new MlesError(
    known,
    (error as Error)?.message ?? String(error),
    TRY_AGAIN.has(known) ? CLOSE.tryAgainLater : CLOSE.internalError,
    { cause: error },
  );
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

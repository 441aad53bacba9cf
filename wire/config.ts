import { cborCodec } from "../codecs/cbor.js";
import { jsonCodec } from "../codecs/json.js";
import type { Codec } from "../codecs/reference.js";
import type { FileDescriptor } from "../model/file-descriptor.js";
import { ConnectionConfigError } from "./errors.js";
import { MemoryBudget } from "./memory-budget.js";

/** Turns sent and received descriptors into fd numbers and back (the Unix transport's job). */
export interface DescriptorCodec {
  /** Takes the handle out of `descriptor` and returns an fd number the transport may own. */
  toFd(descriptor: FileDescriptor): number;
  /** Wraps a received fd in a descriptor of its natural Node type. */
  fromFd(fd: number): FileDescriptor;
  /** Closes a received fd nobody will use (a frame was rejected). */
  discard(fd: number): void;
}

/**
 * Options of a `WireConnection`. Every limit has a default (`DEFAULT_CONFIG`, with its memory
 * cost in PROTOCOL.md "Limits"); `verifyConfig` rejects a bad value at construction, before
 * anything is sent.
 */
export interface ConnectionOptions {
  /** Which side of the connection this is: the client allocates odd ids, the server even ones. */
  role: "client" | "server";
  /** Codecs this side speaks, in order of preference (the client's order decides). */
  codecs: readonly Codec[];
  /** Largest frame payload accepted (default 16 MiB). */
  maxFrameSize?: number;
  /** Initial receive window of every byte stream, in bytes (default 1 MiB). */
  streamWindow?: number;
  /** Largest DATA payload sent (default 64 KiB; never more than the peer's `maxFrameSize`). */
  maxDataFrame?: number;
  /** How fds become numbers and back; required for fds to travel. */
  descriptors?: DescriptorCodec;
  /** Channels the peer may have open at once that it opened (default 10 000; more are refused). */
  maxChannels?: number;
  /**
   * Byte streams the peer may have open at once that it opened; more are refused. Default: as
   * many as 256 MiB of `streamWindow` allows, at most 256 (256 with 1 MiB windows, 64 with the
   * 4 MiB of HTTPS sessions).
   */
  maxStreams?: number;
  /**
   * Requests from the peer that may wait for this side's answer at once (all channels); more
   * are answered FAIL ELIMIT at once (default 1024). Bounds what a peer that sends requests
   * and reads no replies can make this side produce.
   */
  maxPendingRequests?: number;
  /** Received fds that may wait for their frame before the session fails (default 1024). */
  maxPendingFds?: number;
  /** Events the peer may send on one channel before it waits for credit (default 128). */
  eventWindow?: number;
  /** Bytes queued for the peer above which the session is closed at once, ESLOW_CONSUMER (default 64 MiB). */
  maxUnsentBytes?: number;
  /**
   * Milliseconds the bytes queued for the peer may stay above the transport's high-water mark
   * (while this side stops reading from the peer) before the session is closed, ESLOW_CONSUMER
   * (default 30 000).
   */
  slowConsumerTimeout?: number;
  /** The budget of buffered bytes this session shares with others (default `MemoryBudget.shared`). */
  memoryBudget?: MemoryBudget;
}

/** The limits of a connection, all set. */
export type ConnectionConfig = Required<Omit<ConnectionOptions, "descriptors">> & {
  descriptors?: DescriptorCodec;
};

/**
 * The codecs a session offers when it is given none, most preferred first: CBOR (compact, keeps
 * binary and big integers), then JSON (every client has it). Both sides send their list.
 */
export const DEFAULT_CODECS: readonly Codec[] = Object.freeze([cborCodec, jsonCodec]);

/** The defaults of every limit (PROTOCOL.md "Limits" gives each one's memory cost). */
export const DEFAULT_CONFIG = {
  maxFrameSize: 16 * 1024 * 1024,
  streamWindow: 1024 * 1024,
  maxDataFrame: 64 * 1024,
  maxChannels: 10_000,
  maxStreams: 256,
  maxPendingFds: 1024,
  maxPendingRequests: 1024,
  eventWindow: 128,
  maxUnsentBytes: 64 * 1024 * 1024,
  slowConsumerTimeout: 30_000,
} as const;

/** The stream windows one session may hold by default (`maxStreams` × `streamWindow`). */
export const STREAM_WINDOWS_PER_SESSION = 256 * 1024 * 1024;

const U32_MAX = 0xffffffff;
/** The longest timer Node accepts (a longer one fires at once, every millisecond). */
const TIMER_MAX = 0x7fffffff;

const RANGES: Record<keyof typeof DEFAULT_CONFIG, [min: number, max: number]> = {
  maxFrameSize: [1024, U32_MAX],
  streamWindow: [1024, U32_MAX],
  maxDataFrame: [1, 16 * 1024 * 1024],
  maxChannels: [1, U32_MAX],
  maxStreams: [1, U32_MAX],
  maxPendingFds: [1, 65_535],
  maxPendingRequests: [1, U32_MAX],
  eventWindow: [1, U32_MAX],
  maxUnsentBytes: [64 * 1024, Number.MAX_SAFE_INTEGER],
  slowConsumerTimeout: [1, TIMER_MAX],
};

/**
 * Fills in the defaults and checks every option; a bad one throws `ConnectionConfigError`
 * naming it (so a wrong local limit fails here, not later when the peer rejects our HELLO).
 */
export function verifyConfig(options: ConnectionOptions): ConnectionConfig {
  if (options === null || typeof options !== "object") {
    throw new ConnectionConfigError("connection options must be an object");
  }
  if (options.role !== "client" && options.role !== "server") {
    throw new ConnectionConfigError(`role must be "client" or "server", got ${JSON.stringify(options.role)}`);
  }
  const codecs = options.codecs as unknown;
  if (
    !Array.isArray(codecs) ||
    codecs.length === 0 ||
    !codecs.every((codec) => typeof (codec as Codec)?.name === "string")
  ) {
    throw new ConnectionConfigError("codecs must be a non-empty list of codecs");
  }
  const config = { ...DEFAULT_CONFIG, memoryBudget: MemoryBudget.shared } as Record<string, unknown>;
  for (const [key, value] of Object.entries(options)) if (value !== undefined) config[key] = value;
  const window = config.streamWindow;
  if (options.maxStreams === undefined && typeof window === "number" && window > 0) {
    // Larger windows, fewer streams: what unread streams can make a session hold stays bounded.
    config.maxStreams = Math.max(
      1,
      Math.min(DEFAULT_CONFIG.maxStreams, Math.floor(STREAM_WINDOWS_PER_SESSION / window)),
    );
  }
  for (const [key, [min, max]] of Object.entries(RANGES)) {
    const value = config[key];
    if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
      throw new ConnectionConfigError(
        `${key} must be an integer from ${min} to ${max}, got ${typeof value === "string" ? JSON.stringify(value) : String(value)}`,
      );
    }
  }
  const checked = config as ConnectionConfig;
  if (!(checked.memoryBudget instanceof MemoryBudget)) {
    throw new ConnectionConfigError("memoryBudget must be a MemoryBudget");
  }
  return checked;
}

import type { HttpsRefusal } from "../transports/http2/refusal-log.js";
import { MlesConfigError } from "./errors.js";

/** Options of the Mles face (`new MlesFace(hub, options)`; `beamhub serve --mles`). */
export interface MlesOptions {
  /**
   * Mles's shared key (`MLES_KEY`): when set, every header must carry `auth` =
   * hex SipHash-2-4(uid‖channel‖key); without it `auth` is optional but checked when present.
   */
  key?: string | undefined;
  /** Frames of a channel's history replayed to a joining member, oldest first (default 200, as Mles). */
  history?: number;
  /**
   * Largest frame a member may send, the header included (bytes, default 1 MiB as Mles); a larger
   * one closes its connection with 1009.
   */
  maxFrameSize?: number;
  /** Members one channel may have at once (default 1000); more are refused with 1013. */
  maxMembersPerChannel?: number;
  /** A connection must send its header within this many ms (default 10 000), or it is closed. */
  headerTimeout?: number;
  /**
   * A member is pinged this often (ms, default 24 000 as Mles); one that answered nothing — no
   * frame, no pong — for two intervals is dropped. 0 disables it.
   */
  pingInterval?: number;
  /**
   * Frames held for a member that reads slower than its channel is written (default 128, Mles's
   * queue); when they overflow, the member is closed with 1013 `EMLES_LAGGED` (it reconnects for
   * history). The frames are shared with every other reader of the channel.
   */
  ring?: number;
  /**
   * Frames a member may send per second, in bursts of as many (default 100, as Mles; 0: no
   * limit). Mles drops frames over its limit; beamhub stops reading the member's socket until
   * it may go on, so a fast sender is slowed by TCP and loses nothing.
   */
  maxFramesPerSecond?: number;
  /**
   * Web origins whose pages may join (`https://chat.example.com`, `*` any). Default any, as Mles:
   * its clients are pages on other sites. Upgrades without `Origin` (not from a browser) always pass.
   */
  allowOrigins?: readonly string[] | undefined;
  /**
   * Told of clients the face refuses for who they are: a page from an origin not allowed (403
   * `EORIGIN`), a header whose `auth` is missing or does not match (401 `EMLES_AUTH`), a member
   * the access rules keep from its channel (403 `EMLES_FORBIDDEN`). At most one report per kind
   * per 10 s, with the count left out since (a peer can cause them at will). Never in a report:
   * the header's `auth`, the key, the query, a header.
   */
  onRefused?: ((refusal: HttpsRefusal) => void) | undefined;
}

/** The defaults of {@link MlesOptions}. */
export const MLES_DEFAULTS = {
  history: 200,
  maxFrameSize: 1024 * 1024,
  maxMembersPerChannel: 1000,
  headerTimeout: 10_000,
  pingInterval: 24_000,
  ring: 128,
  maxFramesPerSecond: 100,
} as const;

/** The options with defaults filled in, checked. */
export type MlesConfig = Required<Omit<MlesOptions, "key" | "allowOrigins" | "onRefused">> &
  Pick<MlesOptions, "key" | "allowOrigins" | "onRefused">;

/**
 * Fills in defaults and checks every option, so a bad one fails when the face is made rather
 * than at the first client.
 * @throws {MlesConfigError} naming the option.
 */
export function verifyMlesOptions(options: MlesOptions = {}): MlesConfig {
  const config: MlesConfig = { ...MLES_DEFAULTS, ...definedOnly(options) };
  integer("history", config.history, 0, 1_000_000);
  integer("maxFrameSize", config.maxFrameSize, 64, 64 * 1024 * 1024);
  integer("maxMembersPerChannel", config.maxMembersPerChannel, 1, 1_000_000);
  integer("headerTimeout", config.headerTimeout, 1, 3_600_000);
  integer("pingInterval", config.pingInterval, 0, 3_600_000);
  integer("ring", config.ring, 1, 65_536);
  integer("maxFramesPerSecond", config.maxFramesPerSecond, 0, 1_000_000);
  if (config.key !== undefined && (typeof config.key !== "string" || config.key === "")) {
    throw new MlesConfigError("mles key must be a non-empty string");
  }
  return config;
}

function integer(name: string, value: unknown, min: number, max: number): void {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new MlesConfigError(`mles ${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
}

function definedOnly(options: MlesOptions): MlesOptions {
  return Object.fromEntries(
    Object.entries(options).filter(([, value]) => value !== undefined),
  ) as MlesOptions;
}

import { BeamhubError } from "../base/error.js";

/**
 * An Mles member was refused or ended. `closeCode` is the WebSocket close code the face sends
 * (RFC 6455 §7.4.1); the close reason is `<code>: <message>` cut to the 123 bytes a close frame
 * holds, so an Mles client reads why — where Mles itself closes without a word.
 */
export class MlesError extends BeamhubError {
  constructor(
    code: string,
    message: string,
    /** The WebSocket close code this failure closes the connection with. */
    readonly closeCode: number,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

/** WebSocket close codes the face uses (RFC 6455 §7.4.1). */
export const CLOSE = {
  normal: 1000,
  goingAway: 1001,
  unsupportedData: 1003,
  invalidPayload: 1007,
  policy: 1008,
  tooBig: 1009,
  internalError: 1011,
  tryAgainLater: 1013,
} as const;

/**
 * The first frame is not a valid Mles header: binary, not JSON, not an object, `uid` or
 * `channel` missing, empty, not ASCII or too long, a channel name beamhub cannot carry, or
 * `auth` not a string.
 */
export class MlesHeaderError extends MlesError {
  constructor(message: string, closeCode: number = CLOSE.policy, options?: { cause?: unknown }) {
    super("EMLES_HEADER", message, closeCode, options);
  }
}

/** No first frame within the header deadline (`headerTimeout`). */
export class MlesHeaderTimeoutError extends MlesError {
  constructor(readonly timeoutMs: number) {
    super("EMLES_HEADER_TIMEOUT", `no Mles header frame within ${timeoutMs} ms`, CLOSE.policy);
  }
}

/** `auth` is missing while a key is configured, or does not match (see auth.ts). */
export class MlesAuthError extends MlesError {
  constructor(message: string) {
    super("EMLES_AUTH", message, CLOSE.policy);
  }
}

/** The (uid, channel) pair is already a member: the new connection is refused, as Mles does. */
export class MlesDuplicateError extends MlesError {
  constructor(
    readonly uid: string,
    readonly channel: string,
  ) {
    super("EMLES_DUPLICATE", `uid ${JSON.stringify(uid)} is already a member of ${channel}`, CLOSE.policy);
  }
}

/** The hub's access rules do not let this member subscribe to, or publish to, its channel. */
export class MlesForbiddenError extends MlesError {
  constructor(who: string, action: "subscribe to" | "publish to", channel: string) {
    super(
      "EMLES_FORBIDDEN",
      `the hub's access rules do not let ${who} ${action} ${JSON.stringify(channel)}`,
      CLOSE.policy,
    );
  }
}

/** The channel already has `maxMembersPerChannel` members. */
export class MlesChannelFullError extends MlesError {
  constructor(
    readonly channel: string,
    readonly limit: number,
  ) {
    super("EMLES_FULL", `channel ${channel} has its maximum of ${limit} members`, CLOSE.tryAgainLater);
  }
}

/**
 * The member read slower than the channel was written and its ring dropped frames: Mles has no
 * way to tell a client it missed frames, so the connection is closed and a reconnect replays
 * history (clients de-duplicate, as the Mles README asks).
 */
export class MlesLaggedError extends MlesError {
  constructor(readonly dropped: number) {
    super(
      "EMLES_LAGGED",
      `this member read too slowly: ${dropped} frames dropped; reconnect for history`,
      CLOSE.tryAgainLater,
    );
  }
}

/** The face's options are out of range (at construction, not at the first client). */
export class MlesConfigError extends MlesError {
  constructor(message: string) {
    super("EMLES_CONFIG", message, CLOSE.goingAway);
  }
}

/** The close reason for `error`: `<code>: <message>`, within a close frame's 123 bytes. */
export function closeReason(error: MlesError): string {
  const text = `${error.code}: ${error.message}`;
  const bytes = Buffer.from(text);
  if (bytes.length <= 123) return text;
  // Cut on a character boundary: a close reason must be valid UTF-8.
  return new TextDecoder().decode(bytes.subarray(0, 120)).replace(/\uFFFD+$/, "") + "...";
}

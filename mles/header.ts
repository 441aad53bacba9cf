import { CLOSE, MlesHeaderError } from "./errors.js";

/** The Mles first frame: who joins which channel, with an optional auth hash. */
export interface MlesHeader {
  readonly uid: string;
  readonly channel: string;
  /** Hex SipHash (auth.ts); absent or `null` in the frame both mean none. */
  readonly auth: string | undefined;
}

/**
 * Longest `uid` accepted. Mles sets none; beamhub tags every frame with `mles:<uid>` and keeps
 * it per member, so it is bounded like a service name.
 */
export const MAX_UID_LENGTH = 255;

/** ASCII without control characters: a uid ends up in `from` tags and logs (no line breaks). */
const PRINTABLE_ASCII = /^[\x20-\x7e]+$/;

/**
 * Reads the first frame of an Mles connection as Mles does (src/types.rs `MlesHeader`): a text
 * frame holding a JSON object with non-empty ASCII strings `uid` and `channel`, and `auth` a
 * string, `null` or absent; other fields are ignored. Stricter than Mles in two ways, both
 * stated in SECURITY.md: control characters and uids over {@link MAX_UID_LENGTH} are refused.
 *
 * @throws {MlesHeaderError} naming what is wrong; its `closeCode` is 1003 for a binary frame,
 * 1007 for text that is not JSON, 1008 otherwise.
 */
export function parseMlesHeader(frame: Buffer | string, isBinary: boolean): MlesHeader {
  if (isBinary) {
    throw new MlesHeaderError(
      "the first frame must be a text frame with the JSON header",
      CLOSE.unsupportedData,
    );
  }
  const text = typeof frame === "string" ? frame : frame.toString("utf8");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new MlesHeaderError(`the header is not JSON: ${(error as Error).message}`, CLOSE.invalidPayload, {
      cause: error,
    });
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new MlesHeaderError('the header must be a JSON object {"uid", "channel", "auth"?}');
  }
  const { uid, channel, auth } = value as Record<string, unknown>;
  const checkedUid = asciiField("uid", uid);
  if (checkedUid.length > MAX_UID_LENGTH) {
    throw new MlesHeaderError(`uid is ${checkedUid.length} characters, more than ${MAX_UID_LENGTH}`);
  }
  const checkedChannel = asciiField("channel", channel);
  if (auth !== undefined && auth !== null && typeof auth !== "string") {
    throw new MlesHeaderError(`auth must be a string, got ${typeOf(auth)}`);
  }
  return { uid: checkedUid, channel: checkedChannel, auth: auth ?? undefined };
}

function asciiField(name: string, value: unknown): string {
  if (typeof value !== "string") throw new MlesHeaderError(`${name} must be a string, got ${typeOf(value)}`);
  if (value === "") throw new MlesHeaderError(`${name} is empty`);
  if (!PRINTABLE_ASCII.test(value)) {
    throw new MlesHeaderError(`${name} must be printable ASCII (no control characters)`);
  }
  return value;
}

function typeOf(value: unknown): string {
  return value === null ? "null" : Array.isArray(value) ? "an array" : typeof value;
}

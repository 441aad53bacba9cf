import { InvalidNameError } from "../model/errors.js";

/** Longest channel name. */
export const MAX_CHANNEL_LENGTH = 255;

/**
 * The one rule for pub/sub channel names, applied by the core and by every face (a hub session,
 * a remote client before it sends, the Mles face, the HTTPS face): 1–255 printable ASCII
 * characters, space to `~`. Mles takes any non-empty ASCII channel, so every Mles channel
 * without control characters can be joined by beamhub subscribers too; control characters are
 * refused because names end up in logs and in `beamhub channels`' lines. Channels are not
 * service names: a space, `#` or `?` is fine (the HTTPS face percent-decodes its path, a
 * cluster escapes names into NATS subjects).
 */
const CHANNEL_NAME = /^[\x20-\x7e]{1,255}$/;

/** Whether `channel` can name a pub/sub channel. */
export function isValidChannelName(channel: unknown): channel is string {
  return typeof channel === "string" && CHANNEL_NAME.test(channel);
}

/** Throws `InvalidNameError` (`EINVALID_NAME`) unless `channel` can name a pub/sub channel. */
export function verifyChannelName(channel: unknown): asserts channel is string {
  if (isValidChannelName(channel)) return;
  const shown =
    typeof channel === "string"
      ? `${JSON.stringify(channel.slice(0, 64))}${channel.length > 64 ? ` (${channel.length} characters)` : ""}`
      : typeof channel;
  throw new InvalidNameError(
    `invalid pub/sub channel name ${shown}: use 1-${MAX_CHANNEL_LENGTH} printable ASCII characters (space to ~)`,
  );
}

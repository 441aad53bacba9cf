import type { IncomingHttpHeaders } from "node:http";
import { InvalidArgumentError, InvalidNameError } from "../../model/errors.js";
import { verifyChannelName } from "../../pubsub/channel-name.js";
import { PUBSUB_PATH } from "../../transports/http2/paths.js";

/** What a `GET /beamhub/v1/pubsub/<channel>` asks for, checked. */
export interface EventStreamRequest {
  /** The channel, percent-decoded and checked with the pub/sub name rule. */
  readonly channel: string;
  /** `subscribe`'s `history`: `true` all kept, `false` none, `n` the last n. */
  readonly history: boolean | number;
  /** Resume after this seq (`Last-Event-ID`, else `?after=`), as `subscribe`'s `after`. */
  readonly after: number | undefined;
}

/**
 * The query parameters the event stream takes; any other is refused (a typo is not ignored).
 * `access_token` is the listener's (a bearer token from an `EventSource`, which cannot set
 * headers): taken there, never looked at or echoed here.
 */
const PARAMETERS = new Set(["history", "after", "lag", "echo", "access_token"]);

/** Longest `history`/`after`/`Last-Event-ID` text looked at (a seq has at most 16 digits). */
const MAX_NUMBER_TEXT = 20;

/**
 * The channel named by a pub/sub path (`/beamhub/v1/pubsub/<percent-encoded channel>`):
 * decoded, then held to `verifyChannelName` (`InvalidNameError`, 400, otherwise).
 */
export function channelOfPath(path: string): string {
  let channel: string;
  try {
    channel = decodeURIComponent(path.slice(PUBSUB_PATH.length));
  } catch {
    throw new InvalidNameError("the channel name in the path is not valid percent-encoding");
  }
  verifyChannelName(channel);
  return channel;
}

/**
 * Reads an event stream's request: the channel from the path, and from the query `history`
 * (`all`/`true`, `none`/`false`, or a count n ≥ 0: the last n), `after=<seq>` and `lag=drop`
 * (the only policy: an HTTP client cannot hold a publisher back); `echo` is taken and ignored
 * (the stream's session never publishes). `Last-Event-ID` (what `EventSource` sends when it
 * reconnects) wins over `after`. Anything else is an `InvalidArgumentError` (400) naming it.
 */
export function parseEventStreamRequest(
  path: string,
  query: URLSearchParams,
  headers: IncomingHttpHeaders,
): EventStreamRequest {
  const channel = channelOfPath(path);
  for (const name of query.keys()) {
    if (!PARAMETERS.has(name)) {
      throw new InvalidArgumentError(
        `unknown query parameter ${JSON.stringify(name.slice(0, 40))} of a pub/sub event stream (known: history, after, lag, echo, access_token)`,
      );
    }
  }
  const lag = query.get("lag");
  if (lag !== null && lag !== "drop" && lag !== "drop-oldest") {
    throw new InvalidArgumentError(
      `lag=${JSON.stringify(lag.slice(0, 40))} is not served over HTTP: an event stream cannot hold a publisher back, so its only policy is lag=drop (the oldest unsent messages go, told by a "lagged" event)`,
    );
  }
  const echo = query.get("echo");
  if (echo !== null && !["0", "1", "true", "false"].includes(echo)) {
    throw new InvalidArgumentError(
      `echo must be 0, 1, true or false, got ${JSON.stringify(echo.slice(0, 40))}`,
    );
  }
  const lastEventId = headers["last-event-id"];
  const afterText = typeof lastEventId === "string" && lastEventId !== "" ? lastEventId : query.get("after");
  const after =
    afterText === null
      ? undefined
      : count(afterText, afterText === lastEventId ? "the Last-Event-ID header" : "after");
  return { channel, history: historyOf(query.get("history")), after };
}

function historyOf(text: string | null): boolean | number {
  if (text === null || text === "all" || text === "true") return true;
  if (text === "none" || text === "false") return false;
  return count(text, "history");
}

/** A seq or count: decimal digits only, a safe integer ≥ 0. */
function count(text: string, what: string): number {
  const value = /^\d{1,16}$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value)) {
    throw new InvalidArgumentError(
      `${what} must be a whole number >= 0${what === "history" ? " (or all, none)" : ""}, got ${JSON.stringify(text.slice(0, MAX_NUMBER_TEXT))}`,
    );
  }
  return value;
}

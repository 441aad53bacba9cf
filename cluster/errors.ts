import { BeamhubError } from "../base/error.js";
import { ConnectionLostError } from "../wire/errors.js";

/**
 * A link between two hubs of a cluster broke: a message of it was lost (a gap in its sequence,
 * after a NATS reconnect or a slow-consumer cut), the other hub reset it, or the other hub is
 * gone. Everything on the link fails with it — calls, channels, streams — as on a TCP reset;
 * nothing on it hangs. A call that failed this way may have run.
 */
export class LinkResetError extends ConnectionLostError {
  constructor(
    /** The hub at the other end. */
    readonly peer: string,
    why: string,
    cause?: unknown,
  ) {
    super(`cluster link to hub "${peer}" reset: ${why}`, cause, "ELINK_RESET");
  }
}

/** Another hub of the cluster could not be reached (no such hub, or it did not answer). */
export class ClusterPeerError extends BeamhubError {
  constructor(
    readonly peer: string,
    message: string,
    cause?: unknown,
  ) {
    super("ECLUSTER_PEER", message, cause === undefined ? undefined : { cause });
  }
}

/** The cluster could not be joined or its registry used (NATS unreachable, JetStream missing). */
export class ClusterError extends BeamhubError {
  constructor(message: string, cause?: unknown) {
    super("ECLUSTER", message, cause === undefined ? undefined : { cause });
  }
}

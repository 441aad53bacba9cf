/**
 * Counts of messages a hub dropped because they were not what their subject carries. Any NATS
 * client allowed on a subject can send bytes there (permissions fence a cluster's subjects:
 * SECURITY.md), so a hub never trusts them: it drops what does not decode and counts it, and a
 * count that grows names the subject someone misuses.
 * @module
 */

/** Where a malformed message came from. */
export type MalformedSource =
  /** `_beam.<ns>.<hub>.ctl`: a control request that is not one, or opens a link already open. */
  | "control"
  /** `_beam.<ns>.<hub>.l.<from>`: bytes that are not a link message. */
  | "link"
  /** `beam.<ns>.hb.*`: a heartbeat, or the answer to a probe, that is not one. */
  | "heartbeat"
  /** `beam.<ns>.reg` and the registry bucket: an announcement, key or record that is not one. */
  | "registry"
  /** `beam.<ns>.pub.*`: a relayed publication that is not one. */
  | "publication";

/** The counters, one per {@link MalformedSource}. */
export class MalformedCounts {
  readonly #counts: Record<MalformedSource, number> = {
    control: 0,
    link: 0,
    heartbeat: 0,
    registry: 0,
    publication: 0,
  };

  /** One more malformed message from `source`. */
  count(source: MalformedSource): void {
    this.#counts[source]++;
  }

  /** A copy of the counters now. */
  snapshot(): Record<MalformedSource, number> {
    return { ...this.#counts };
  }
}

import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { cborCodec } from "../codecs/index.js";
import type { Hub } from "../hub/hub.js";
import type { MalformedCounts } from "./malformed.js";
import type { ClusterSubjects } from "./subjects.js";

/** A publication as it travels between hubs (CBOR on `beam.<ns>.pub.<channel>`). */
interface RelayedPublication {
  /** The hub where it was published. */
  readonly hub: string;
  /** The publisher's identity, as that hub tagged it. */
  readonly from: string;
  readonly data: unknown;
}

/**
 * Pub/sub across the cluster: every message published on one hub is published on the others
 * too, tagged with its publisher's identity as its own hub tagged it (never re-relayed). Each hub
 * keeps its history and numbering, so a late joiner anywhere gets the channel's history, and
 * subscribers' slow-reader policies apply at their own hub. Messages of one publisher arrive in
 * order; messages of different hubs interleave as they come. Byte-stream broadcasts stay on their
 * hub.
 */
export class PubSubRelay {
  readonly #stop: () => void;
  readonly #subscription: Subscription;

  constructor(options: {
    hub: Hub;
    nc: NatsConnection;
    subjects: ClusterSubjects;
    self: string;
    onError: (error: unknown) => void;
    malformed?: MalformedCounts;
  }) {
    const { hub, nc, subjects, self, onError, malformed } = options;
    let relaying = false;
    this.#stop = hub.pubsub.relay((channel, data, from) => {
      if (relaying) return; // one that came from another hub
      try {
        const publication: RelayedPublication = { hub: self, from, data };
        nc.publish(subjects.publication(channel), cborCodec.encode(publication));
      } catch (error) {
        onError(error);
      }
    });
    this.#subscription = nc.subscribe(subjects.publications, {
      callback: (error, message) => {
        if (error !== null) return;
        const channel = subjects.parsePublication(message.subject);
        let publication: Partial<RelayedPublication> | null;
        try {
          publication = cborCodec.decode(message.data) as typeof publication;
        } catch {
          publication = null;
        }
        if (
          channel === undefined ||
          typeof publication !== "object" ||
          publication === null ||
          typeof publication.hub !== "string" ||
          typeof publication.from !== "string"
        ) {
          malformed?.count("publication");
          return;
        }
        if (publication.hub === self) return;
        relaying = true;
        try {
          hub.pubsub.publish(channel, publication.data, publication.from).catch(onError);
        } finally {
          relaying = false;
        }
      },
    });
  }

  close(): void {
    this.#stop();
    this.#subscription.unsubscribe();
  }
}

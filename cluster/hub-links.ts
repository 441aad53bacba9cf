import { randomBytes } from "node:crypto";
import type { Msg, NatsConnection } from "@nats-io/transport-node";
import type { Hub } from "../hub/hub.js";
import { serveHubSession } from "../hub/remote/hub-server.js";
import { RemoteHub } from "../hub/remote/remote-hub.js";
import { DEFAULT_CODECS } from "../wire/config.js";
import { handshakeWithin, openSession } from "../wire/open-session.js";
import type { Identity } from "../model/identity.js";
import { carriedCaller, decodeControlRequest, type ControlRequest } from "./control-request.js";
import { ClusterPeerError, LinkResetError } from "./errors.js";
import { LINK_ID_BYTES, decodeLinkMessage, encodeLinkMessage, LinkMessageType } from "./link-message.js";
import { LinkTransport, type LinkLimits } from "./link-transport.js";
import type { MalformedCounts } from "./malformed.js";
import type { ClusterSubjects } from "./subjects.js";

/** What the links need of the cluster. */
export interface LinksContext {
  readonly nc: NatsConnection;
  readonly hub: Hub;
  readonly subjects: ClusterSubjects;
  /** This hub's name in the cluster, and the id of this run of it. */
  readonly self: string;
  readonly epoch: string;
  /** Bound on opening a link (ms). */
  readonly openTimeoutMs: number;
  readonly limits: LinkLimits & { withoutFds: "convert" | "refuse" };
  /** Called for every message from a peer on a link of its: a sign of life. */
  readonly heard?: (peer: string) => void;
  /** Counts what arrived malformed (dropped). */
  readonly malformed?: MalformedCounts;
}

/**
 * Links to one hub carrying calls of distinct callers, at most: each is a session at that hub
 * (a few KB there and here), and a caller past this many fails typed instead of growing them.
 */
export const MAX_CALLER_LINKS_PER_HUB = 1024;

/** This hub's link to another, for one caller: a beamhub session over NATS, opened on first use. */
interface OutboundLink {
  readonly peer: string;
  /** Its key in the outbound map: the peer and the caller it carries. */
  readonly key: string;
  readonly remote: Promise<RemoteHub>;
  /** Set once the session is up: calls go straight to it. */
  ready?: RemoteHub;
}

/**
 * The links of one hub to the others of its cluster. A link is a beamhub session (the same
 * protocol as over a socket) carried in NATS messages between two hubs: this hub opens one to a
 * peer the first time it calls a service there (client side), and serves the links peers open
 * to it (server side, a session of this hub with identity `{ id: <peer>, via: "cluster" }`). All
 * messages to this hub arrive on one subscription, `_beam.<ns>.<self>.>`.
 */
export class HubLinks {
  readonly #context: LinksContext;
  readonly #outbound = new Map<string, OutboundLink>();
  /** Every live link of either side, by id. */
  readonly #transports = new Map<string, { peer: string; transport: LinkTransport }>();
  #closed = false;

  constructor(context: LinksContext) {
    this.#context = context;
    const { nc, subjects, self } = context;
    nc.subscribe(subjects.inbox(self), {
      callback: (error, message) => {
        if (error === null) this.#dispatch(message);
      },
    });
  }

  /** The peers this hub has a live link with (either side). */
  get peers(): Set<string> {
    return new Set([...this.#transports.values()].map((entry) => entry.peer));
  }

  /**
   * The session to `peer` that carries calls of `caller` (the identity of whoever called at this
   * hub; undefined: anonymous), opened on first use; the same one until it ends. The other hub
   * serves it as a session of that identity, so its access rules and services see the caller.
   */
  remote(peer: string, caller?: Identity): RemoteHub | Promise<RemoteHub> {
    const carried = carriedCaller(caller);
    if (carried === undefined)
      return Promise.reject(
        new ClusterPeerError(peer, `the caller's identity is too long to carry to hub "${peer}"`),
      );
    const key = `${peer}\n${carried === null ? "" : JSON.stringify(carried)}`;
    const existing = this.#outbound.get(key);
    if (existing !== undefined) return existing.ready ?? existing.remote;
    let links = 0;
    for (const other of this.#outbound.values()) if (other.peer === peer) links++;
    if (links >= MAX_CALLER_LINKS_PER_HUB)
      return Promise.reject(
        new ClusterPeerError(
          peer,
          `${links} callers already have links to hub "${peer}" (at most ${MAX_CALLER_LINKS_PER_HUB})`,
        ),
      );
    const link: OutboundLink = { peer, key, remote: this.#open(peer, carried) };
    this.#outbound.set(key, link);
    link.remote.then(
      (remote) => {
        link.ready = remote;
        void remote.closed.then(() => this.#forget(link));
      },
      () => this.#forget(link),
    );
    return link.remote;
  }

  /** Fails every link with `peer` (it is gone, or restarted): what was on them fails with `why`. */
  resetPeer(peer: string, why: string): void {
    for (const [id, entry] of this.#transports) {
      if (entry.peer !== peer) continue;
      this.#transports.delete(id);
      entry.transport.fail(new LinkResetError(peer, why));
    }
  }

  /** Closes every link. */
  close(): void {
    this.#closed = true;
    for (const entry of this.#transports.values()) entry.transport.reset("the hub left the cluster");
    this.#transports.clear();
  }

  #forget(link: OutboundLink): void {
    if (this.#outbound.get(link.key) === link) this.#outbound.delete(link.key);
  }

  async #open(peer: string, caller: Identity | null): Promise<RemoteHub> {
    const { nc, subjects, self, epoch, openTimeoutMs } = this.#context;
    if (this.#closed) throw new ClusterPeerError(peer, "this hub left the cluster");
    const id = randomBytes(LINK_ID_BYTES);
    // Registered before the peer hears of it: the peer's first bytes may come before its answer.
    const transport = this.#track(id, peer);
    try {
      const request: ControlRequest = { op: "open", link: transport.id, from: self, epoch, caller };
      await nc.request(subjects.control(peer), JSON.stringify(request), { timeout: openTimeoutMs });
    } catch (error) {
      this.#transports.delete(transport.id);
      transport.fail(new ClusterPeerError(peer, `hub "${peer}" did not open a link`, error));
      throw new ClusterPeerError(
        peer,
        `cannot reach hub "${peer}" of the cluster: ${describeNatsError(error)}`,
        error,
      );
    }
    const session = openSession(transport, { role: "client", codecs: DEFAULT_CODECS });
    await handshakeWithin(
      session,
      openTimeoutMs,
      () =>
        new ClusterPeerError(peer, `hub "${peer}" opened a link but no session within ${openTimeoutMs} ms`),
    );
    return new RemoteHub(session.connection, { reconnect: false });
  }

  #track(id: Uint8Array, peer: string): LinkTransport {
    const { nc, subjects, self, limits } = this.#context;
    const subject = subjects.link(peer, self);
    const transport = new LinkTransport(
      id,
      peer,
      {
        send: (message) => nc.publish(subject, message),
        maxPayload: nc.info?.max_payload ?? 1024 * 1024,
      },
      limits,
    );
    this.#transports.set(transport.id, { peer, transport });
    return transport;
  }

  #dispatch(message: Msg): void {
    const { subjects } = this.#context;
    const kind = subjects.parseInbox(message.subject);
    if (kind?.kind === "link") this.#onLinkMessage(kind.from, message.data);
    else if (kind?.kind === "control") this.#onControl(message);
  }

  #onLinkMessage(from: string, bytes: Uint8Array): void {
    const decoded = decodeLinkMessage(bytes);
    if (decoded === undefined) {
      this.#context.malformed?.count("link");
      return;
    }
    const entry = this.#transports.get(decoded.link);
    // Only the hub at the other end may speak on a link (its name is in the subject).
    if (entry !== undefined && entry.peer === from) {
      this.#context.heard?.(from);
      entry.transport.receive(bytes);
      if (entry.transport.ended) this.#transports.delete(decoded.link);
      return;
    }
    // A link this hub does not know (it restarted, or reset it): say so, once per message that
    // is not itself a reset, so the other side fails at once instead of at its keep-alive.
    if (decoded.type !== LinkMessageType.RESET && decoded.type !== LinkMessageType.END) {
      const reset = encodeLinkMessage(
        LinkMessageType.RESET,
        Buffer.from(decoded.link, "hex"),
        0xffffffff,
        new TextEncoder().encode("no such link"),
      );
      try {
        this.#context.nc.publish(this.#context.subjects.link(from, this.#context.self), reset);
      } catch {
        // Closed: nothing to tell.
      }
    }
  }

  #onControl(message: Msg): void {
    const request = decodeControlRequest(message.data);
    if (request === undefined) {
      this.#context.malformed?.count("control");
      return;
    }
    const { epoch, hub } = this.#context;
    if (request.op === "probe") {
      message.respond(JSON.stringify({ epoch }));
      return;
    }
    if (this.#closed) return;
    // A link id already in use is refused: taking it over would orphan the session on it.
    if (this.#transports.has(request.link)) {
      this.#context.malformed?.count("control");
      return;
    }
    const transport = this.#track(Buffer.from(request.link, "hex"), request.from);
    message.respond(JSON.stringify({ epoch }));
    const session = openSession(transport, { role: "server", codecs: DEFAULT_CODECS });
    // The caller the link carries, as its hub vouches for it (hubs of a cluster trust each
    // other: NATS permissions decide who may open links here); a hub that names none is the
    // caller itself.
    const identity =
      request.caller === undefined
        ? { id: request.from, via: "cluster" }
        : servedCaller(request.caller ?? undefined, request.from);
    serveHubSession(hub, session.connection, identity, { transport: "cluster" });
    void session.connection.closed.then(() => {
      if (this.#transports.get(transport.id)?.transport === transport) this.#transports.delete(transport.id);
    });
  }
}

/** A NATS error as a short phrase ("no responders" for a hub that is not there). */
export function describeNatsError(error: unknown): string {
  const typed = error as { isNoResponders?: () => boolean; message?: string };
  if (typed?.isNoResponders?.() === true) return "no such hub is connected (no responders)";
  return typed?.message ?? String(error);
}

/**
 * A carried caller as this hub serves it. A Unix peer is a user of another host: it is not on
 * this hub's socket, so it must not pass for one of this host's users (its hub's owner or root
 * would be this hub's owner too, and "other Unix users may do nothing" would refuse every caller
 * of the other hub by default). It keeps its name and is told apart as `via: "cluster"`, with the
 * hub it came through in `attributes.hub`; other identities are served as they came.
 */
export function servedCaller(caller: Identity | undefined, from: string): Identity | undefined {
  if (caller?.via !== "unix") return caller;
  return { id: caller.id, via: "cluster", attributes: { ...caller.attributes, hub: from, was: "unix" } };
}

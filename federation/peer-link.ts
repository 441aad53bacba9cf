import type { Hub } from "../hub/hub.js";
import { RemoteHub } from "../hub/remote/remote-hub.js";
import type { Registration, ServiceInfo, Watch } from "../hub/types.js";
import { ByteStream } from "../model/byte-stream.js";
import { DEFAULT_CODECS } from "../wire/config.js";
import { handshakeWithin, openSession } from "../wire/open-session.js";
import type { TrustStore, VerifiedHub } from "./pki/trust-store.js";
import { federatedName, isExportable, TUNNEL_SERVICE } from "./names.js";
import type { HubIdentity } from "./tunnel/handshake.js";
import { openTunnel } from "./tunnel/secure-tunnel.js";
import { TunnelHandshakeError } from "./tunnel/errors.js";

/** What a site needs to open a tunnel to another site through the broker. */
export interface LinkContext {
  readonly hub: Hub;
  readonly self: HubIdentity;
  readonly trust: TrustStore;
  /** The session to the broker. */
  readonly broker: RemoteHub;
  readonly timeoutMs: number;
}

/**
 * This site's way to another site: a beamhub session through an end-to-end tunnel the broker
 * relays, and a local registration `<name>@<site>` for every instance the other site offers, so
 * that local callers reach them by name, with labels, channels, streams and deadlines as in one
 * hub. When the tunnel ends, the mirrors go with it.
 */
export class PeerLink {
  readonly site: string;
  /** The other site's certificate, as the tunnel's handshake verified it. */
  readonly peer: VerifiedHub;
  readonly #remote: RemoteHub;
  readonly #watch: Watch;
  readonly #mirrors = new Map<string, Promise<Registration>>();
  readonly #hub: Hub;
  readonly closed: Promise<void>;

  private constructor(peer: VerifiedHub, hub: Hub, remote: RemoteHub) {
    this.site = peer.id;
    this.peer = peer;
    this.#hub = hub;
    this.#remote = remote;
    this.#watch = remote.watch({ existing: true });
    this.closed = this.#follow();
  }

  /** Opens a tunnel to `site` (as its initiator) and starts mirroring its services. */
  static async open(context: LinkContext, site: string): Promise<PeerLink> {
    const [mine, theirs] = ByteStream.pair();
    const accepted = context.broker.call(
      TUNNEL_SERVICE,
      { to: site, stream: theirs },
      { timeout: context.timeoutMs },
    );
    // A refused or lost request ends the handshake below at once, not at its timeout (the
    // broker gone while the request waited to be sent: the other end will never answer).
    accepted.catch((error: unknown) => mine.reset(error));
    let tunnel;
    try {
      tunnel = await openTunnel(mine, {
        role: "initiator",
        self: context.self,
        trust: context.trust,
        peer: site,
        timeoutMs: context.timeoutMs,
      });
      await accepted;
    } catch (error) {
      mine.reset(error);
      throw error instanceof TunnelHandshakeError
        ? error
        : new TunnelHandshakeError(`no tunnel to ${site}: ${(error as Error).message}`, { cause: error });
    }
    const session = openSession(tunnel.transport, { role: "client", codecs: DEFAULT_CODECS });
    await handshakeWithin(
      session,
      context.timeoutMs,
      () => new TunnelHandshakeError(`${site} did not open a session in the tunnel`),
    );
    return new PeerLink(tunnel.peer, context.hub, new RemoteHub(session.connection));
  }

  async close(): Promise<void> {
    this.#watch.close();
    await this.#remote.close();
    await this.closed;
  }

  async #follow(): Promise<void> {
    try {
      for await (const event of this.#watch) {
        if (!isExportable(event.service.name)) continue;
        if (event.type === "added") this.#mirror(event.service);
        else void this.#unmirror(event.service.id);
      }
    } catch {
      // The tunnel went: the mirrors go below.
    } finally {
      const mirrors = [...this.#mirrors.keys()];
      await Promise.allSettled(mirrors.map((id) => this.#unmirror(id)));
    }
  }

  #mirror(service: ServiceInfo): void {
    const remote = this.#remote;
    const registration = this.#hub.register(
      federatedName(service.name, this.site),
      (data, context) =>
        remote.call(service.name, data, {
          instance: service.id,
          cancelWith: context,
          timeout: context.deadline === undefined ? 0 : Math.max(1, context.deadline - Date.now()),
        }),
      { labels: service.labels },
    );
    this.#mirrors.set(service.id, registration);
    registration.catch(() => this.#mirrors.delete(service.id));
  }

  async #unmirror(id: string): Promise<void> {
    const registration = this.#mirrors.get(id);
    this.#mirrors.delete(id);
    if (registration !== undefined) await (await registration.catch(() => undefined))?.unregister();
  }
}

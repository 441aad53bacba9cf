import type { Hub } from "../hub/hub.js";
import type { Registration } from "../hub/types.js";
import { ByteStream } from "../model/byte-stream.js";
import { ForbiddenError, InvalidArgumentError } from "../model/errors.js";
import { SITE_PREFIX, SITES_SERVICE, TUNNEL_SERVICE, siteService } from "./names.js";

/** A site hub connected to the broker, as `federation.sites` lists it. */
export interface ConnectedSite {
  readonly hub: string;
  readonly sessionId: string;
}

/** What `serveBroker` started; `close` takes the broker's services away. */
export interface Broker {
  sites(): Promise<ConnectedSite[]>;
  /**
   * The sites as Samply.Beam's `/v1/health/proxies` reports them (hand it to `taskRoutes` /
   * `taskRequestListener` as `proxies`): connected now, or gone since when.
   */
  readonly health: {
    connected(): Promise<string[]>;
    status(id: string): Promise<{ online: true } | { online: false; lastDisconnect: number } | undefined>;
  };
  close(): Promise<void>;
}

/**
 * Makes `hub` the broker of a federation. Site hubs connect to it with certificates of the
 * federation's authority (mutual TLS: their session identity is their hub id) and each registers
 * `federation.site.<its id>`. The broker relays tunnels between them (`federation.tunnel`): it
 * joins two byte streams and never holds a key, so what crosses it is ciphertext.
 *
 * Serve the hub with `listenHttps(hub, { ca: root, requireAuth: true, ... })` so that only
 * hubs of the federation get sessions.
 */
export async function serveBroker(hub: Hub): Promise<Broker> {
  hub.authorize({
    // Only the hub a certificate names may stand for it, and nobody may shadow the broker's own.
    register: (identity, service) =>
      !service.startsWith("federation.") ||
      (identity?.via === "mtls" && service === siteService(identity.id)),
  });
  const sites = async (): Promise<ConnectedSite[]> =>
    (await hub.list({ prefix: SITE_PREFIX })).map((info) => ({
      hub: info.name.slice(SITE_PREFIX.length),
      sessionId: info.sessionId,
    }));
  const registrations: Registration[] = [
    await hub.register(SITES_SERVICE, sites),
    await hub.register(TUNNEL_SERVICE, async (data: { to?: unknown; stream?: unknown }, context) => {
      const from = context.caller.identity;
      if (from?.via !== "mtls")
        throw new ForbiddenError(
          "call",
          TUNNEL_SERVICE,
          from?.id,
          "only hubs with a federation certificate open tunnels",
        );
      if (typeof data?.to !== "string" || !(data.stream instanceof ByteStream))
        throw new InvalidArgumentError("a tunnel request is { to: <hub id>, stream: ByteStream }");
      // The site's handshake runs over the stream; the broker only passes it on.
      return hub.call(siteService(data.to), { from: from.id, stream: data.stream }, { cancelWith: context });
    }),
  ];
  // When each site that went away was last seen (bounded: a broker meets few sites).
  const lastDisconnect = new Map<string, number>();
  const departures = hub.watch({ prefix: SITE_PREFIX, existing: false });
  void (async () => {
    for await (const event of departures) {
      if (event.type !== "removed") continue;
      lastDisconnect.delete(event.service.name.slice(SITE_PREFIX.length));
      if (lastDisconnect.size >= 10_000) lastDisconnect.delete(lastDisconnect.keys().next().value!);
      lastDisconnect.set(event.service.name.slice(SITE_PREFIX.length), Date.now());
    }
  })().catch(() => undefined);
  const connected = async (): Promise<string[]> => (await sites()).map((site) => site.hub).sort();
  return {
    sites,
    health: {
      connected,
      status: async (id) => {
        if ((await connected()).includes(id)) return { online: true };
        const since = lastDisconnect.get(id);
        return since === undefined ? undefined : { online: false, lastDisconnect: since };
      },
    },
    close: async () => {
      departures.close();
      await Promise.all(registrations.map((registration) => registration.unregister()));
    },
  };
}

import type { TLSSocket } from "node:tls";
import type { Hub } from "../hub/hub.js";
import type { Registration } from "../hub/types.js";
import { ByteStream } from "../model/byte-stream.js";
import { ForbiddenError, InvalidArgumentError } from "../model/errors.js";
import type { Identity } from "../model/identity.js";
import {
  CRL_SERVICE,
  KEYS_SERVICE,
  SITE_PREFIX,
  SITES_SERVICE,
  TUNNEL_SERVICE,
  keysService,
  siteService,
} from "./names.js";
import { CertificateError } from "./pki/errors.js";
import { TrustStore } from "./pki/trust-store.js";
import type { HttpsListener } from "../transports/http2/listen.js";

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
  /**
   * The site hub a session speaks for: its certificate's hub id. Throws `ForbiddenError` when
   * the session has no federation certificate, or a revocation list the broker holds revokes it.
   */
  site(identity: Identity | undefined, what: string): string;
  /**
   * Applies a revocation list (PEM, signed by the authority): the sites it revokes are refused
   * from now on, their open connections cut (with `options.listener`), and sites fetch it from
   * `federation.crl` (on joining, and periodically).
   */
  setRevocationList(pem: string): Promise<number>;
  close(): Promise<void>;
}

/** Options of `serveBroker`. */
export interface BrokerOptions {
  /** The authority's root certificate (PEM); needed to check and serve revocation lists. */
  root?: string;
  /**
   * The broker's own certificate chain (PEM, as its https listener presents it): the
   * intermediate in it signs the revocation lists.
   */
  cert?: string;
  /** The authority's current revocation list (PEM), served to sites as `federation.crl`. */
  crl?: string;
  /** How long the broker waits for a site to hand out its keys, in ms (default 5000). */
  keysTimeoutMs?: number;
  /**
   * The https listener the sites connect to. Given, the broker checks each connection's client
   * certificate against its revocation lists as soon as TLS completes (before any request is
   * read) and refuses a revoked one (each request answered 401, `CERT_REVOKED`), and cuts the
   * open connections of a site that a newly applied list revokes: its session, its
   * registrations and the tunnels through it end at once.
   */
  listener?: Pick<HttpsListener, "server">;
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
export async function serveBroker(hub: Hub, options: BrokerOptions = {}): Promise<Broker> {
  const trust = options.root === undefined ? undefined : new TrustStore(options.root);
  // Verifying the broker's own chain teaches the store the intermediate that signs the lists.
  if (trust !== undefined && options.cert !== undefined) trust.verify(options.cert);
  let crl: string | null = null;
  const setRevocationList = async (pem: string): Promise<number> => {
    if (trust === undefined)
      throw new CertificateError(
        "the broker needs the authority's root (options.root) to check a revocation list",
      );
    const count = await trust.addRevocationList(pem);
    crl = pem;
    cutRevoked();
    return count;
  };
  // The sites' TLS connections, by the serial of their certificate, to cut when it is revoked.
  const connections = new Map<TLSSocket, string>();
  const cutRevoked = (): void => {
    for (const [socket, serial] of connections) if (trust?.isRevoked(serial) === true) socket.destroy();
  };
  const onConnection = (socket: TLSSocket): void => {
    const serial = socket.getPeerCertificate()?.serialNumber;
    // Without a certificate the listener's own rules (requireAuth) decide.
    if (typeof serial !== "string" || serial === "") return;
    if (trust?.isRevoked(serial) === true) {
      // Refused as TLS refuses an expired certificate (the listener answers every request of
      // this connection 401 "the client certificate was not accepted: CERT_REVOKED", OpenSSL's
      // name): a bare drop looked like a network error to the site, which then knocked again
      // every few seconds forever. Told, it waits minutes between attempts (refusal-backoff.ts).
      markRevoked(socket);
      return;
    }
    connections.set(socket, serial);
    socket.once("close", () => connections.delete(socket));
  };
  options.listener?.server.on("secureConnection", onConnection);
  if (options.crl !== undefined) await setRevocationList(options.crl);
  const revoked = (identity: Identity): boolean => {
    const serial = identity.attributes?.serialNumber;
    return trust !== undefined && typeof serial === "string" && trust.isRevoked(serial);
  };
  const site = (identity: Identity | undefined, what: string): string => {
    if (identity?.via !== "mtls")
      throw new ForbiddenError("call", what, identity?.id, "only hubs with a federation certificate may");
    if (revoked(identity)) throw new ForbiddenError("call", what, identity.id, "its certificate is revoked");
    return identity.id;
  };
  hub.authorize({
    // Only the hub a certificate names may stand for it, and nobody may shadow the broker's own.
    register: (identity, service) =>
      !service.startsWith("federation.") ||
      (identity?.via === "mtls" &&
        !revoked(identity) &&
        (service === siteService(identity.id) || service === keysService(identity.id))),
  });
  // The last keys each site handed out, to answer for it while it is away (tasks wait for it).
  const directory = new Map<string, unknown>();
  const sites = async (): Promise<ConnectedSite[]> =>
    (await hub.list({ prefix: SITE_PREFIX })).map((info) => ({
      hub: info.name.slice(SITE_PREFIX.length),
      sessionId: info.sessionId,
    }));
  const registrations: Registration[] = [
    await hub.register(SITES_SERVICE, sites),
    await hub.register(TUNNEL_SERVICE, async (data: { to?: unknown; stream?: unknown }, context) => {
      const from = site(context.caller.identity, TUNNEL_SERVICE);
      if (typeof data?.to !== "string" || !(data.stream instanceof ByteStream))
        throw new InvalidArgumentError("a tunnel request is { to: <hub id>, stream: ByteStream }");
      // The site's handshake runs over the stream; the broker only passes it on.
      return hub.call(siteService(data.to), { from, stream: data.stream }, { cancelWith: context });
    }),
    await hub.register(CRL_SERVICE, (_data: unknown, context) => {
      site(context.caller.identity, CRL_SERVICE);
      return crl;
    }),
    // A site's certificate chain and sealing-key record, as the site hands them out (the
    // broker is not trusted with them: every site checks them against the authority).
    await hub.register(KEYS_SERVICE, async (data: { hub?: unknown }, context) => {
      site(context.caller.identity, KEYS_SERVICE);
      if (typeof data?.hub !== "string")
        throw new InvalidArgumentError("a keys request is { hub: <hub id> }");
      try {
        const entry = await hub.call(keysService(data.hub), null, {
          timeout: options.keysTimeoutMs ?? 5000,
          cancelWith: context,
        });
        if (!directory.has(data.hub) && directory.size >= 10_000)
          directory.delete(directory.keys().next().value!);
        directory.set(data.hub, entry);
        return entry;
      } catch {
        return directory.get(data.hub) ?? null;
      }
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
    site,
    setRevocationList,
    health: {
      connected,
      status: async (id) => {
        if ((await connected()).includes(id)) return { online: true };
        const since = lastDisconnect.get(id);
        return since === undefined ? undefined : { online: false, lastDisconnect: since };
      },
    },
    close: async () => {
      options.listener?.server.off("secureConnection", onConnection);
      departures.close();
      await Promise.all(registrations.map((registration) => registration.unregister()));
    },
  };
}

/**
 * Marks a connection's client certificate as not accepted, the way Node marks one OpenSSL did
 * not verify (`authorized`, `authorizationError`): the https listener then refuses each of its
 * requests before reading it further. Set as TLS completes, before any request arrives.
 */
function markRevoked(socket: TLSSocket): void {
  const fields = socket as unknown as { authorized: boolean; authorizationError: string };
  fields.authorized = false;
  fields.authorizationError = "CERT_REVOKED";
}

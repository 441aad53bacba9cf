import { createPrivateKey, generateKeyPairSync, X509Certificate, type KeyObject } from "node:crypto";
import type { Hub } from "../hub/hub.js";
import { serveHubSession } from "../hub/remote/hub-server.js";
import { HttpsRemoteHub, type ConnectHttpsOptions } from "../hub/remote/connect-https.js";
import { verifyReconnectOptions } from "../hub/remote/reconnect-options.js";
import type { RemoteHub } from "../hub/remote/remote-hub.js";
import type { Watch } from "../hub/types.js";
import { ByteStream } from "../model/byte-stream.js";
import { InvalidArgumentError } from "../model/errors.js";
import { httpsDialer } from "../transports/http2/dial-https.js";
import { DEFAULT_CODECS } from "../wire/config.js";
import { openSession } from "../wire/open-session.js";
import type { BrokerRefusal } from "./broker-refusal.js";
import { CRL_SERVICE, SITE_PREFIX, keysService, siteService } from "./names.js";
import { PeerLink } from "./peer-link.js";
import { TrustStore } from "./pki/trust-store.js";
import { RefusalBackoff, type RefusalBackoffOptions } from "./refusal-backoff.js";
import { sealingKeyRecord, type SealingKeyRecord } from "./seal/sealing-key.js";
import { SealingKeyring } from "./seal/sealing-keyring.js";
import type { HubIdentity } from "./tunnel/handshake.js";
import { openTunnel, type Tunnel } from "./tunnel/secure-tunnel.js";

/** Options of `joinFederation`. */
export interface JoinFederationOptions {
  /** The broker's URL (`https://broker-host:8443`). */
  broker: string;
  /** This hub's id, as its certificate names it (`proxy1.broker`). */
  id: string;
  /** This hub's certificate chain and Ed25519 key (PEM), from the federation's authority. */
  cert: string;
  key: string;
  /** The authority's root certificate (PEM): the broker's and every site's chain end there. */
  root: string;
  /** The broker's hub id, which its certificate names (default: `id` without its first label). */
  brokerId?: string;
  /** Bound on opening a tunnel, in ms (default 10 000). */
  timeoutMs?: number;
  /**
   * How the session to the broker is dialled and kept (reconnects by default). Unlike a plain
   * `connectHttps` client, a site never gives up on a refused certificate: see `refusedRetry`.
   */
  connection?: Omit<ConnectHttpsOptions, "ca" | "cert" | "key" | "servername">;
  /**
   * How often a site retries a broker that refuses it in a way no retry heals (its certificate
   * revoked, expired or not trusted, or the broker's not trusted here): waits doubling from 10 s
   * to 5 min (`{ firstDelayMs: 10_000, maxDelayMs: 300_000 }`) instead of the session's normal
   * backoff; `reload` ends the wait at once. Network errors keep the normal backoff.
   */
  refusedRetry?: RefusalBackoffOptions;
  /**
   * Told each time the broker's verdict on this site changes: a refusal (with its reason), or
   * `undefined` when a later attempt got through. Once per change, not per attempt.
   */
  onBrokerRefusal?: (refusal: BrokerRefusal | undefined) => void;
  /**
   * This hub's X25519 sealing key (PEM or KeyObject): what other sites seal task bodies to.
   * Keep it in a file (`serve` keeps DIR/seal.key): bodies stored at the broker while this hub
   * was down are sealed to it. Default: a fresh key, good for this process only. A
   * `SealingKeyring` also keeps retired keys, so that bodies sealed before a rotation still open.
   */
  sealingKey?: string | KeyObject | SealingKeyring;
  /** A revocation list (PEM) to apply before the broker's arrives. */
  crl?: string;
  /** How often the broker's revocation list is fetched again, in ms (default 300 000; 0: only on joining). */
  crlIntervalMs?: number;
  /** Told about what went wrong in the background (a revocation list that did not apply). */
  onWarning?: (message: string) => void;
}

/** What a site hub needs to seal for other sites and open what they sealed (`federation-tasks/`). */
export interface SiteKeys {
  /** This hub's id, certificate chain and certified Ed25519 key. */
  readonly self: HubIdentity;
  /** This hub's current X25519 sealing key (the one handed out). */
  readonly sealingKey: KeyObject;
  /** The current sealing key and the retired ones that still open what was sealed to them. */
  readonly sealing: SealingKeyring;
  /** The authority's root, the intermediates learnt, and the revocation lists applied. */
  readonly trust: TrustStore;
}

/** Where a site's session to its broker stands (`FederationSite.brokerStatus`). */
export interface BrokerStatus {
  /** `"refused"`: reconnecting, and the broker's last answer was a refusal no retry heals. */
  readonly state: "connected" | "reconnecting" | "refused" | "closed";
  /** The standing refusal (state `"refused"`). */
  readonly refusal?: BrokerRefusal;
  /** When the next attempt starts (ms since the epoch), while a refused site waits. */
  readonly retryAt?: number;
}

/** A hub's membership in a federation. */
export interface FederationSite {
  readonly id: string;
  /** The session to the broker (it reconnects on its own). */
  readonly broker: RemoteHub;
  /** Where the session to the broker stands, and why it is refused when it is. */
  brokerStatus(): BrokerStatus;
  /** The sites this hub has a tunnel to. */
  peers(): string[];
  /** The keys this site seals and opens with. */
  readonly keys: SiteKeys;
  /**
   * Fetches the broker's revocation list now and applies it (as `addRevocationList` does);
   * resolves to the number of revoked serials.
   */
  refreshRevocations(): Promise<number>;
  /**
   * Applies a revocation list (PEM): sites it revokes are refused from now on, and the tunnels
   * to and from them close at once (their `NAME@SITE` services go). Resolves to the number of
   * revoked serials.
   */
  addRevocationList(pem: string): Promise<number>;
  /**
   * Takes a renewed certificate (and its key) without downtime: the session to the broker and
   * the tunnels already open stay as they are; new tunnels, new connections to the broker and
   * everything sealed from now on use the new pair. A site the broker refuses tries again at
   * once with it. Throws (keeping the old pair) when the certificate does not verify, names
   * another hub, or does not match the key.
   */
  reload(credentials: { cert: string; key: string }): void;
  close(): Promise<void>;
}

/**
 * Joins `hub` to a federation as a site: one outbound session to the broker (HTTP/2, else
 * WebSocket; no inbound port needed), kept up with reconnects. For every other site the broker
 * knows, the hub opens an end-to-end tunnel through the broker and offers that site's services
 * locally as `<name>@<site id>`; tunnels from other sites are served as sessions whose identity
 * is the calling site (`{ id: "proxy2.broker", via: "federation" }`), so `hub.authorize` rules
 * decide what each site may call.
 */
export async function joinFederation(hub: Hub, options: JoinFederationOptions): Promise<FederationSite> {
  const { id, root, timeoutMs = 10_000 } = options;
  const trust = new TrustStore(root);
  if (options.crl !== undefined) await trust.addRevocationList(options.crl);
  const verified = trust.verify(options.cert, { hub: id });
  let self: HubIdentity = { id: verified.id, chain: options.cert, key: createPrivateKey(options.key) };
  const sealing =
    options.sealingKey instanceof SealingKeyring
      ? options.sealingKey
      : new SealingKeyring(
          options.sealingKey === undefined
            ? generateKeyPairSync("x25519").privateKey
            : typeof options.sealingKey === "string"
              ? createPrivateKey(options.sealingKey)
              : options.sealingKey,
        );
  const brokerId = options.brokerId ?? id.split(".").slice(1).join(".");
  if (brokerId === "") throw new InvalidArgumentError(`"${id}" has no broker part; give brokerId`);

  // Read again at each reconnection: `reload` replaces cert and key here.
  const dialOptions = {
    ...options.connection,
    ca: root,
    cert: options.cert,
    key: options.key,
    servername: brokerId,
  };
  const refusals = new RefusalBackoff(
    options.refusedRetry ?? {},
    options.onBrokerRefusal ?? (() => undefined),
  );
  // connectHttps's client, with the dial wrapped in the refusal's wait; and it never gives up on
  // a refusal (as connectHttps does on refused credentials): a reload can heal it.
  const reconnect = verifyReconnectOptions(options.connection?.reconnect);
  const dialSession = httpsDialer(options.broker, dialOptions);
  let current = await dialSession();
  const broker = new HttpsRemoteHub(current.connection, () => current, {
    reconnect,
    isPermanent: () => false,
    dial: async () => {
      current = await refusals.dial(dialSession);
      return current.connection;
    },
  });
  const links = new Map<string, Promise<PeerLink>>();
  // Tunnels other sites opened to this one, open now.
  const served = new Set<Tunnel>();
  const context = {
    hub,
    get self() {
      return self;
    },
    trust,
    broker,
    timeoutMs,
  };

  // Tunnels other sites open to this one: each becomes a session of this hub.
  await broker.register(siteService(id), async (data: { from?: unknown; stream?: unknown }) => {
    if (typeof data?.from !== "string" || !(data.stream instanceof ByteStream))
      throw new InvalidArgumentError("a tunnel is { from: <hub id>, stream: ByteStream }");
    const tunnel = await openTunnel(data.stream, {
      role: "responder",
      self,
      trust,
      peer: data.from,
      timeoutMs,
    });
    const session = openSession(tunnel.transport, { role: "server", codecs: DEFAULT_CODECS });
    served.add(tunnel);
    void session.connection.closed.then(() => served.delete(tunnel));
    serveHubSession(hub, session.connection, { id: tunnel.peer.id, via: "federation" });
    return { accepted: tunnel.peer.id };
  });

  // Other sites seal to this hub with what it hands out here (a fresh record each time: it never expires).
  await broker.register(keysService(id), (): { chain: string; record: SealingKeyRecord } => ({
    chain: self.chain,
    record: sealingKeyRecord(id, sealing.current, self.key),
  }));

  const warn = options.onWarning ?? (() => undefined);
  // A revocation applies to the tunnels already open, not only to new ones: both ways, here.
  const cutRevoked = async (): Promise<void> => {
    const cut = new Set<string>();
    for (const tunnel of served) {
      if (!trust.isRevoked(tunnel.peer.serial)) continue;
      served.delete(tunnel);
      if (tunnel.transport.abort !== undefined) tunnel.transport.abort();
      else void tunnel.transport.close();
      cut.add(tunnel.peer.id);
    }
    const opened = await Promise.allSettled(links.values());
    await Promise.all(
      opened.map(async (outcome) => {
        if (outcome.status !== "fulfilled" || !trust.isRevoked(outcome.value.peer.serial)) return;
        cut.add(outcome.value.site);
        await outcome.value.close();
      }),
    );
    if (cut.size > 0) warn(`federation: closed the tunnels of revoked ${[...cut].sort().join(", ")}`);
  };
  const addRevocationList = async (pem: string): Promise<number> => {
    const count = await trust.addRevocationList(pem);
    await cutRevoked();
    return count;
  };
  // The broker's revocation list: now, and every crlIntervalMs.
  const refreshRevocations = async (): Promise<number> => {
    const pem = await broker.call<string | null>(CRL_SERVICE, null, { timeout: timeoutMs });
    return typeof pem === "string" ? addRevocationList(pem) : 0;
  };
  await refreshRevocations().catch((error: Error) =>
    warn(`federation: no revocation list from the broker: ${error.message}`),
  );
  const crlInterval = options.crlIntervalMs ?? 300_000;
  const crlTimer =
    crlInterval > 0
      ? setInterval(
          () =>
            void refreshRevocations().catch((error: Error) =>
              warn(`federation: the broker's revocation list did not apply: ${error.message}`),
            ),
          crlInterval,
        ).unref()
      : undefined;

  // Sites the broker lists now: a failed or lost tunnel to one of them is retried with backoff.
  const known = new Set<string>();
  let closing = false;
  const connectTo = (site: string, attempt = 0): void => {
    if (site === id || links.has(site) || closing || !known.has(site)) return;
    const link = PeerLink.open(context, site);
    links.set(site, link);
    const retry = (): void => {
      if (links.get(site) !== link) return;
      links.delete(site);
      const delay = Math.min(30_000, 500 * 2 ** attempt) * (0.5 + Math.random() / 2);
      setTimeout(() => connectTo(site, attempt + 1), delay).unref();
    };
    link.then((open) => void open.closed.then(retry), retry);
  };
  const sites: Watch = broker.watch({ prefix: SITE_PREFIX, existing: true });
  const following = (async () => {
    for await (const event of sites) {
      const site = event.service.name.slice(SITE_PREFIX.length);
      if (event.type === "added") {
        known.add(site);
        connectTo(site);
      } else {
        known.delete(site);
        void links.get(site)?.then(
          (link) => link.close(),
          () => undefined,
        );
      }
    }
  })().catch(() => undefined);

  return {
    id,
    broker,
    brokerStatus: () => {
      const refusal = refusals.refusal;
      if (broker.state !== "reconnecting" || refusal === undefined) return { state: broker.state };
      const retryAt = refusals.retryAt;
      return { state: "refused", refusal, ...(retryAt === undefined ? {} : { retryAt }) };
    },
    peers: () => [...links.keys()],
    keys: {
      get self() {
        return self;
      },
      get sealingKey() {
        return sealing.current;
      },
      sealing,
      trust,
    },
    refreshRevocations,
    addRevocationList,
    reload: ({ cert, key }) => {
      const renewed = trust.verify(cert, { hub: id });
      const privateKey = createPrivateKey(key);
      if (!new X509Certificate(cert).checkPrivateKey(privateKey))
        throw new InvalidArgumentError(`the key does not belong to the renewed certificate of ${id}`);
      self = { id: renewed.id, chain: cert, key: privateKey };
      dialOptions.cert = cert;
      dialOptions.key = key;
      refusals.wake();
    },
    close: async () => {
      closing = true;
      clearInterval(crlTimer);
      sites.close();
      await following;
      // A tunnel still opening (to a site that does not answer) would hold close up to timeoutMs:
      // the session to the broker goes first, which ends the stream under its handshake.
      const closed = [...links.values()].map((link) => link.then((open) => open.close()));
      await broker.close();
      // After the client: a dial waiting out a refusal then ends as a closed client's.
      refusals.close();
      await Promise.allSettled(closed);
    },
  };
}

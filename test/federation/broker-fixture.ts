// A federation's broker as the tests run it: a hub on an https listener on loopback that asks
// for certificates of the authority's root, made the broker with that listener (so that it
// checks revocation as TLS completes).
import { serveBroker, type Broker } from "../../federation/broker.js";
import type { CertificateAuthority } from "../../federation/pki/authority.js";
import { Hub } from "../../hub/hub.js";
import { listenHttps } from "../../hub/remote/listen-https.js";
import type { HttpsListener } from "../../transports/http2/listen.js";

/** A running broker: its hub, its listener and the broker itself. */
export interface BrokerFixture {
  readonly hub: Hub;
  readonly listener: HttpsListener;
  readonly broker: Broker;
  close(): Promise<void>;
}

/** Starts a broker with a certificate `ca` issues for the hub id "broker". */
export async function startBroker(ca: CertificateAuthority): Promise<BrokerFixture> {
  const credentials = await ca.issue("broker");
  const hub = new Hub();
  const listener = await listenHttps(hub, {
    host: "127.0.0.1",
    port: 0,
    cert: credentials.certificate,
    key: credentials.key,
    ca: ca.rootPem,
    requireAuth: true,
  });
  const broker = await serveBroker(hub, { root: ca.rootPem, cert: credentials.certificate, listener });
  return {
    hub,
    listener,
    broker,
    close: async () => {
      await broker.close();
      await listener.close();
      await hub.close();
    },
  };
}

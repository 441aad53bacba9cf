// A site the broker refuses for good (its certificate revoked, expired, of another authority)
// over real TLS in one process: it is told why (the broker answers 401 naming OpenSSL's reason
// instead of dropping the connection), waits minutes between attempts instead of seconds, says
// so once, and is back at once when it reloads a new certificate. A broker that is merely gone
// is a network error: the normal backoff, no refusal.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Broker } from "../../federation/broker.js";
import {
  brokerRefusalOf,
  describeBrokerRefusal,
  type BrokerRefusal,
} from "../../federation/broker-refusal.js";
import { CertificateAuthority } from "../../federation/pki/authority.js";
import { verifyRefusalBackoff } from "../../federation/refusal-backoff.js";
import { joinFederation, type FederationSite } from "../../federation/site.js";
import { Hub } from "../../hub/hub.js";
import { dialHttps } from "../../transports/http2/dial-https.js";
import type { HttpsListener } from "../../transports/http2/listen.js";
import { startBroker, type BrokerFixture } from "./broker-fixture.js";

let dir: string;
let ca: CertificateAuthority;
let foreign: CertificateAuthority;
let fixture: BrokerFixture;
let listener: HttpsListener;
let broker: Broker;
let siteHub: Hub;
let site: FederationSite;
/** Every TLS connection the broker's listener completed. */
let handshakes = 0;
const verdicts: (BrokerRefusal | undefined)[] = [];

async function until(check: () => boolean | Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** What `brokerRefusalOf` makes of a real dial to the broker with these credentials. */
async function refusalOfDial(
  cert: string,
  key: string,
  root = ca.rootPem,
): Promise<BrokerRefusal | undefined> {
  const session = await dialHttps(listener.url, { ca: root, cert, key, servername: "broker" }).then(
    (dialed) => dialed,
    (error: unknown) => error,
  );
  if (!(session instanceof Error)) throw new Error("the broker accepted the session");
  return brokerRefusalOf(session);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-refused-site-"));
  ca = await CertificateAuthority.init(join(dir, "ca"));
  foreign = await CertificateAuthority.init(join(dir, "foreign"));
  fixture = await startBroker(ca);
  ({ listener, broker } = fixture);
  listener.server.on("secureConnection", () => (handshakes += 1));
  siteHub = new Hub();
  const issued = await ca.issue("proxy1.broker");
  site = await joinFederation(siteHub, {
    broker: listener.url,
    id: "proxy1.broker",
    cert: issued.certificate,
    key: issued.key,
    root: ca.rootPem,
    // The normal backoff fast, the refusal's wait far longer than the test: what brings the
    // site back below can only be the reload.
    connection: { reconnect: { initialDelay: 50, maxDelay: 200 } },
    refusedRetry: { firstDelayMs: 120_000, maxDelayMs: 300_000 },
    onBrokerRefusal: (refusal) => verdicts.push(refusal),
  });
  await until(
    async () => (await broker.health.connected()).includes("proxy1.broker"),
    "proxy1 at the broker",
  );
}, 60_000);

afterAll(async () => {
  await site?.close();
  await fixture?.close();
  await siteHub?.close();
  await rm(dir, { recursive: true, force: true });
});

describe("a site whose certificate the broker refuses", () => {
  it("is told it is revoked, waits instead of knocking, and is back at once after a reload", async () => {
    expect(site.brokerStatus()).toEqual({ state: "connected" });
    await ca.revoke("proxy1.broker");
    await broker.setRevocationList(await ca.crl());
    await until(() => site.brokerStatus().retryAt !== undefined, "the site waiting out the refusal");
    const status = site.brokerStatus();
    expect(status.state).toBe("refused");
    expect(status.refusal).toMatchObject({ reason: "revoked", code: "EUNAUTHENTICATED" });
    expect(status.refusal!.message).toContain("CERT_REVOKED");
    expect(status.retryAt! - Date.now()).toBeGreaterThan(10_000);
    // Once per change, not per attempt.
    expect(verdicts.map((verdict) => verdict?.reason)).toEqual(["revoked"]);
    // No further handshake while it waits (the normal backoff would have made several by now).
    const before = handshakes;
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(handshakes).toBe(before);

    const renewed = await ca.issue("proxy1.broker");
    site.reload({ cert: renewed.certificate, key: renewed.key });
    await until(async () => (await broker.health.connected()).includes("proxy1.broker"), "proxy1 back");
    await until(() => site.brokerStatus().state === "connected", "the site connected");
    expect(verdicts.map((verdict) => verdict?.reason)).toEqual(["revoked", undefined]);
    expect(site.brokerStatus()).toEqual({ state: "connected" });
  }, 60_000);

  it("reads expired and foreign certificates, and a broker it does not trust, as refusals", async () => {
    const expiring = await ca.issue("proxy2.broker", { days: 1 / 86_400 });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const expired = await refusalOfDial(expiring.certificate, expiring.key);
    expect(expired).toMatchObject({ reason: "expired", code: "EUNAUTHENTICATED" });
    expect(describeBrokerRefusal(expired!)).toMatch(/has expired; install a new certificate/);
    const stranger = await foreign.issue("proxy3.broker");
    expect(await refusalOfDial(stranger.certificate, stranger.key)).toMatchObject({ reason: "untrusted" });
    // This side's verdict on the broker's certificate (signed by another root than it trusts).
    const valid = await ca.issue("proxy4.broker");
    expect(await refusalOfDial(valid.certificate, valid.key, foreign.rootPem)).toMatchObject({
      reason: "broker-certificate",
      code: "ETLS_UNTRUSTED",
    });
  }, 30_000);

  it("checks the refusal's wait at joining", () => {
    expect(verifyRefusalBackoff({})).toEqual({ firstDelayMs: 10_000, maxDelayMs: 300_000 });
    expect(() => verifyRefusalBackoff({ firstDelayMs: -1 })).toThrow(/refusedRetry\.firstDelayMs/);
    expect(() => verifyRefusalBackoff({ firstDelayMs: 5000, maxDelayMs: 1000 })).toThrow(/must be >=/);
  });

  it("keeps the normal backoff when the broker is only gone (a network error)", async () => {
    const port = listener.port;
    await listener.close();
    await until(() => site.brokerStatus().state === "reconnecting", "the site reconnecting");
    // Attempts fail with ECONNREFUSED meanwhile: never a refusal.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(site.brokerStatus()).toEqual({ state: "reconnecting" });
    expect(verdicts.map((verdict) => verdict?.reason)).toEqual(["revoked", undefined]);
    const refused = await dialHttps(`https://127.0.0.1:${port}`, { ca: ca.rootPem }).catch(
      (error: unknown) => error,
    );
    expect(brokerRefusalOf(refused)).toBeUndefined();
  }, 30_000);
});

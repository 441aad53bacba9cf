// Revocation applies to what is already open, over real TLS in one process: a site that loads a
// list revoking another closes its tunnels to and from it; a broker that loads it cuts the
// revoked site's connection (its session, registrations and the tunnels it relays) and refuses
// any new connection with that certificate as soon as TLS completes (401 CERT_REVOKED to each
// request, before the hub sees it).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Broker } from "../../federation/broker.js";
import { CertificateAuthority, type HubCredentials } from "../../federation/pki/authority.js";
import { joinFederation, type FederationSite } from "../../federation/site.js";
import { Hub } from "../../hub/hub.js";
import type { HttpsListener } from "../../transports/http2/listen.js";
import { startBroker, type BrokerFixture } from "./broker-fixture.js";

let dir: string;
let ca: CertificateAuthority;
let fixture: BrokerFixture;
let listener: HttpsListener;
let broker: Broker;
const credentials = new Map<string, HubCredentials>();
const hubs = new Map<string, Hub>();
const sites = new Map<string, FederationSite>();
const warnings: string[] = [];
const SITES = ["proxy1.broker", "proxy2.broker", "proxy3.broker"];

/** Polls `check` until it holds; fails naming `what` after `ms` (a bound, not a timing claim). */
async function until(check: () => Promise<boolean>, what: string, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const offers = async (at: string, name: string): Promise<boolean> =>
  (await hubs.get(at)!.lookup(name)).length > 0;

/**
 * What the broker's listener answers a TLS client with `id`'s certificate that asks for the
 * list of services: the bytes it got back before the connection closed ("" when it was dropped).
 */
function answerTo(id: string): Promise<string> {
  const { certificate, key } = credentials.get(id)!;
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: "127.0.0.1",
      port: listener.port,
      ca: ca.rootPem,
      cert: certificate,
      key,
      servername: "broker",
      ALPNProtocols: ["http/1.1"],
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer to ${id} within 10 s`));
    }, 10_000);
    let received = "";
    socket.on("secureConnect", () =>
      socket.write("GET /beamhub/v1/services HTTP/1.1\r\nHost: broker\r\nConnection: close\r\n\r\n"),
    );
    socket.on("data", (chunk: Buffer) => (received += chunk.toString("latin1")));
    socket.on("error", () => undefined); // a reset is an answer too
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(received);
    });
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-revocation-"));
  ca = await CertificateAuthority.init(join(dir, "ca"));
  fixture = await startBroker(ca);
  ({ listener, broker } = fixture);
  for (const id of SITES) {
    const hub = new Hub();
    const issued = await ca.issue(id);
    credentials.set(id, issued);
    await hub.register("hello", () => `hello from ${id}`);
    hubs.set(id, hub);
    sites.set(
      id,
      await joinFederation(hub, {
        broker: listener.url,
        id,
        cert: issued.certificate,
        key: issued.key,
        root: ca.rootPem,
        onWarning: (line) => warnings.push(`${id}: ${line}`),
        // Reconnect fast, so that a refused site keeps knocking during the test.
        connection: { reconnect: { initialDelay: 50, maxDelay: 200 } },
      }),
    );
  }
  for (const at of SITES)
    for (const other of SITES)
      if (other !== at) await until(() => offers(at, `hello@${other}`), `hello@${other} at ${at}`);
}, 60_000);

afterAll(async () => {
  await Promise.allSettled([...sites.values()].map((site) => site.close()));
  await fixture?.close();
  await Promise.allSettled([...hubs.values()].map((hub) => hub.close()));
  await rm(dir, { recursive: true, force: true });
});

describe("revocation of a site with open connections", () => {
  it("closes a site's tunnels to and from the revoked site when it loads the list", async () => {
    await ca.revoke("proxy3.broker");
    const crl = await ca.crl();
    // Only proxy1 knows so far (it read the list from a file, say): the broker still relays.
    expect(await sites.get("proxy1.broker")!.addRevocationList(crl)).toBe(1);
    // Its tunnel to proxy3 is closed: proxy3's services are gone at proxy1 ...
    await until(async () => !(await offers("proxy1.broker", "hello@proxy3.broker")), "proxy3 gone at proxy1");
    // ... and the tunnel proxy3 had opened to proxy1 too: proxy1's services are gone at proxy3,
    // and stay gone (proxy3 tries again; proxy1 refuses its certificate in the tunnel handshake).
    await until(async () => !(await offers("proxy3.broker", "hello@proxy1.broker")), "proxy1 gone at proxy3");
    expect(warnings).toContainEqual("proxy1.broker: federation: closed the tunnels of revoked proxy3.broker");
    // The other sites go on as before.
    expect(await hubs.get("proxy1.broker")!.call("hello@proxy2.broker", null, { timeout: 10_000 })).toBe(
      "hello from proxy2.broker",
    );
    expect(await hubs.get("proxy3.broker")!.call("hello@proxy2.broker", null, { timeout: 10_000 })).toBe(
      "hello from proxy2.broker",
    );
  }, 30_000);

  it("cuts the revoked site's connection at the broker, and refuses its new ones as TLS completes", async () => {
    // Before the broker loads the list, proxy3's certificate gets answers from its listener.
    expect(await answerTo("proxy3.broker")).toMatch(/^HTTP\/1\.1 /);
    const crl = await ca.crl();
    expect(await broker.setRevocationList(crl)).toBe(1);
    // Its session went with its connection: no site service of proxy3 at the broker, and the
    // tunnels the broker relayed for it are gone at proxy2.
    await until(
      async () => !(await broker.health.connected()).includes("proxy3.broker"),
      "proxy3 gone from the broker",
    );
    await until(async () => !(await offers("proxy2.broker", "hello@proxy3.broker")), "proxy3 gone at proxy2");
    // A new connection with the revoked certificate is refused, saying why; another site's is not.
    expect(await answerTo("proxy3.broker")).toMatch(/^HTTP\/1\.1 401 [\s\S]*CERT_REVOKED/);
    expect(await answerTo("proxy2.broker")).toMatch(/^HTTP\/1\.1 /);
    // proxy3 keeps reconnecting and is never let in.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await broker.health.connected()).toEqual(["proxy1.broker", "proxy2.broker"]);
    expect(await hubs.get("proxy2.broker")!.call("hello@proxy1.broker", null, { timeout: 10_000 })).toBe(
      "hello from proxy1.broker",
    );
  }, 30_000);
});

// Three hubs as a federation in one process, over real TLS: a broker, two sites, and a call from
// an application at one site to a service at the other, with a reply channel and a byte stream.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serveBroker, type Broker } from "../../federation/broker.js";
import { CertificateAuthority, type HubCredentials } from "../../federation/pki/authority.js";
import { joinFederation, type FederationSite } from "../../federation/site.js";
import { Hub } from "../../hub/hub.js";
import { listenHttps } from "../../hub/remote/listen-https.js";
import type { HttpsListener } from "../../transports/http2/listen.js";
import { Channel } from "../../model/channel.js";
import { ByteStream } from "../../model/byte-stream.js";
import { within } from "../compliance/suite.js";

let dir: string;
let ca: CertificateAuthority;
const hubs: Hub[] = [];
let listener: HttpsListener;
let broker: Broker;
const sites: FederationSite[] = [];

async function site(id: string, credentials: HubCredentials): Promise<{ hub: Hub; site: FederationSite }> {
  const hub = new Hub();
  hubs.push(hub);
  const joined = await joinFederation(hub, {
    broker: listener.url,
    id,
    cert: credentials.certificate,
    key: credentials.key,
    root: ca.rootPem,
  });
  sites.push(joined);
  return { hub, site: joined };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-federation-"));
  ca = await CertificateAuthority.init(join(dir, "ca"));
  const brokerHub = new Hub();
  hubs.push(brokerHub);
  const brokerCredentials = await ca.issue("broker");
  listener = await listenHttps(brokerHub, {
    host: "127.0.0.1",
    port: 0,
    cert: brokerCredentials.certificate,
    key: brokerCredentials.key,
    ca: ca.rootPem,
    requireAuth: true,
  });
  broker = await serveBroker(brokerHub);
});

afterAll(async () => {
  await Promise.allSettled(sites.map((joined) => joined.close()));
  await listener?.close();
  await Promise.allSettled(hubs.map((hub) => hub.close()));
  await rm(dir, { recursive: true, force: true });
});

describe("a federation of a broker and two site hubs", () => {
  it("routes echo@proxy2.broker from site 1 to site 2 with a nested reply channel and a byte stream", async () => {
    const one = await site("proxy1.broker", await ca.issue("proxy1.broker"));
    const two = await site("proxy2.broker", await ca.issue("proxy2.broker"));
    await two.hub.register(
      "echo",
      async (data: { text: string; upload: ByteStream; progress: Channel }, context) => {
        const chunks: Buffer[] = [];
        for await (const chunk of data.upload.readable) chunks.push(Buffer.from(chunk));
        // A request back to the caller, answered there: replies nest across the three hubs.
        const ack = await data.progress.request({
          caller: context.caller.identity?.id,
          bytes: Buffer.concat(chunks).length,
        });
        return { text: data.text.toUpperCase(), body: Buffer.concat(chunks).toString(), ack };
      },
      { labels: { kind: "demo" } },
    );
    expect((await broker.sites()).map((entry) => entry.hub).sort()).toEqual([
      "proxy1.broker",
      "proxy2.broker",
    ]);

    const [upload, uploadTheirs] = ByteStream.pair();
    const [progress, progressTheirs] = Channel.pair();
    const reports: unknown[] = [];
    progress.handle((report) => {
      reports.push(report);
      return "noted";
    });
    const writer = upload.writable.getWriter();
    void writer.write(Buffer.from("bytes across three hubs")).then(() => writer.close());
    const reply = await within(
      one.hub.call<{ text: string; body: string; ack: string }>(
        "echo@proxy2.broker",
        { text: "hello", upload: uploadTheirs, progress: progressTheirs },
        { waitForService: 10_000, labels: { kind: "demo" } },
      ),
      15_000,
      "the call across the federation",
    );
    expect(reply).toEqual({ text: "HELLO", body: "bytes across three hubs", ack: "noted" });
    expect(reports).toEqual([{ caller: "proxy1.broker", bytes: 23 }]);
    expect((await one.hub.lookup("echo@proxy2.broker"))[0]?.labels).toEqual({ kind: "demo" });
  }, 30_000);
});

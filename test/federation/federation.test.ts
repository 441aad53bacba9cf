// Three hubs as a federation in one process, over real TLS: a broker, two sites, and calls from
// an application at one site to a service at the other, with a reply channel and a byte stream.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serveBroker, type Broker } from "../../federation/broker.js";
import { CertificateAuthority, type HubCredentials } from "../../federation/pki/authority.js";
import { joinFederation, type FederationSite } from "../../federation/site.js";
import { Hub } from "../../hub/hub.js";
import { connectHttps } from "../../hub/remote/connect-https.js";
import { listenHttps } from "../../hub/remote/listen-https.js";
import { ByteStream } from "../../model/byte-stream.js";
import { Channel } from "../../model/channel.js";
import type { HttpsListener } from "../../transports/http2/listen.js";
import { within } from "../compliance/suite.js";

let dir: string;
let ca: CertificateAuthority;
let brokerCredentials: HubCredentials;
let brokerHub: Hub;
let listener: HttpsListener;
let broker: Broker;
const siteHubs = new Map<string, Hub>();
const sites: FederationSite[] = [];

async function startBroker(port = 0): Promise<void> {
  brokerHub = new Hub();
  listener = await listenHttps(brokerHub, {
    host: "127.0.0.1",
    port,
    cert: brokerCredentials.certificate,
    key: brokerCredentials.key,
    ca: ca.rootPem,
    requireAuth: true,
  });
  broker = await serveBroker(brokerHub);
}

async function startSite(id: string): Promise<Hub> {
  const hub = new Hub();
  const credentials = await ca.issue(id);
  sites.push(
    await joinFederation(hub, {
      broker: listener.url,
      id,
      cert: credentials.certificate,
      key: credentials.key,
      root: ca.rootPem,
    }),
  );
  siteHubs.set(id, hub);
  return hub;
}

/** The request of the `echo` service: text, an upload stream, and a channel for a request back. */
function echoRequest(text: string, upload: string, reports: unknown[]) {
  const [mine, theirs] = ByteStream.pair();
  const writer = mine.writable.getWriter();
  void writer.write(Buffer.from(upload)).then(() => writer.close());
  const [progress, progressTheirs] = Channel.pair();
  progress.handle((report) => {
    reports.push(report);
    return "noted";
  });
  return { text, upload: theirs, progress: progressTheirs };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-federation-"));
  ca = await CertificateAuthority.init(join(dir, "ca"));
  brokerCredentials = await ca.issue("broker");
  await startBroker();
});

afterAll(async () => {
  await Promise.allSettled(sites.map((joined) => joined.close()));
  await listener?.close();
  await Promise.allSettled([brokerHub, ...siteHubs.values()].map((hub) => hub?.close()));
  await rm(dir, { recursive: true, force: true });
});

describe("a federation of a broker and two site hubs", () => {
  it("routes echo@proxy2.broker from site 1 to site 2 with a nested reply channel and a byte stream", async () => {
    const one = await startSite("proxy1.broker");
    const two = await startSite("proxy2.broker");
    await two.register(
      "echo",
      async (data: { text: string; upload: ByteStream; progress: Channel }, context) => {
        const chunks: Buffer[] = [];
        for await (const chunk of data.upload.readable) chunks.push(Buffer.from(chunk));
        const body = Buffer.concat(chunks).toString();
        // A request back to the caller, answered there: replies nest across the three hubs.
        const ack = await data.progress.request({ caller: context.caller.identity?.id, bytes: body.length });
        return { text: data.text.toUpperCase(), body, ack };
      },
      { labels: { kind: "demo" } },
    );
    expect((await broker.sites()).map((entry) => entry.hub).sort()).toEqual([
      "proxy1.broker",
      "proxy2.broker",
    ]);

    const reports: unknown[] = [];
    const reply = await within(
      one.call("echo@proxy2.broker", echoRequest("hello", "bytes across three hubs", reports), {
        waitForService: 10_000,
        labels: { kind: "demo" },
      }),
      15_000,
      "the call across the federation",
    );
    expect(reply).toEqual({ text: "HELLO", body: "bytes across three hubs", ack: "noted" });
    expect(reports).toEqual([{ caller: "proxy1.broker", bytes: 23 }]);
    expect((await one.lookup("echo@proxy2.broker"))[0]?.labels).toEqual({ kind: "demo" });
  }, 30_000);

  it("keeps a site from standing for another, and turns away a hub of another authority", async () => {
    const three = await ca.issue("proxy3.broker");
    const impostor = await connectHttps(listener.url, {
      ca: ca.rootPem,
      cert: three.certificate,
      key: three.key,
      servername: "broker",
      reconnect: false,
    });
    try {
      for (const name of ["federation.site.proxy2.broker", "federation.tunnel"])
        await expect(impostor.register(name, () => "mine")).rejects.toMatchObject({ code: "EFORBIDDEN" });
    } finally {
      await impostor.close();
    }
    const stranger = await (await CertificateAuthority.init(join(dir, "other"))).issue("proxy1.broker");
    await expect(
      connectHttps(listener.url, {
        ca: ca.rootPem,
        cert: stranger.certificate,
        key: stranger.key,
        servername: "broker",
        reconnect: false,
        timeout: 5_000,
      }),
    ).rejects.toThrow();
  }, 30_000);

  it("survives a broker restart: a call in flight fails typed, the sites reconnect, calls work again", async () => {
    const one = siteHubs.get("proxy1.broker")!;
    const two = siteHubs.get("proxy2.broker")!;
    let cancelledAtSite2: (reason: unknown) => void = () => undefined;
    const cancelled = new Promise((resolve) => (cancelledAtSite2 = resolve));
    await two.register("slow", (_data, context) => new Promise(() => context.onCancel(cancelledAtSite2)));
    const inFlight = one.call("slow@proxy2.broker", undefined, { waitForService: 10_000 }).then(
      () => undefined,
      (error: unknown) => error,
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    const port = listener.port;
    const stopped = Date.now();
    await listener.close();
    await brokerHub.close();
    const failure = await within(inFlight, 5_000, "the call in flight to fail");
    expect(failure).toMatchObject({ code: expect.stringMatching(/^E[A-Z_]+$/) });
    expect(Date.now() - stopped).toBeLessThan(5_000);
    // The handler at site 2 hears that its caller is gone, rather than working on for nobody.
    await within(cancelled, 5_000, "the handler at site 2 to be cancelled");

    await startBroker(port);
    const reply = await within(
      one.call("echo@proxy2.broker", echoRequest("again", "after", []), { waitForService: 20_000 }),
      25_000,
      "a call after the broker came back",
    );
    expect(reply).toMatchObject({ text: "AGAIN", body: "after" });
  }, 60_000);
});

// Reaching a hub: "auto" falls back to the WebSocket when only HTTP/1.1 gets through, and TLS
// failures (an untrusted or expired certificate) give a precise error instead of a fallback.
import { createServer as createHttpsServer, type Server } from "node:https";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type AttachedHub,
  attachHub,
  type CertificatePair,
  ConnectError,
  connectHttps,
  createDevCertificate,
  Hub,
  TlsError,
} from "../../index.js";
import { startHub, type HttpsFixture } from "./helpers.js";

describe("fallback to the WebSocket", () => {
  let hub: Hub;
  let server: Server;
  let attached: AttachedHub;
  let certificate: CertificatePair;
  let url: string;

  beforeAll(async () => {
    hub = new Hub();
    await hub.register("echo", (data: unknown) => data);
    // An HTTPS server that only speaks HTTP/1.1 (ALPN offers http/1.1 alone), like a proxy.
    certificate = await createDevCertificate();
    server = createHttpsServer({ ...certificate, ALPNProtocols: ["http/1.1"] });
    attached = attachHub(hub, server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `https://127.0.0.1:${(server.address() as { port: number }).port}`;
  });

  afterAll(async () => {
    await attached?.detach();
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    await hub?.close();
  });

  it('"auto" connects over the WebSocket when ALPN gives only http/1.1', async () => {
    const remote = await connectHttps(url, { ca: certificate.cert });
    expect(remote.transport).toBe("websocket");
    expect(await remote.call("echo", { via: "fallback" })).toEqual({ via: "fallback" });
    await remote.close();
  });

  it('"http2" alone fails with a precise error', async () => {
    await expect(connectHttps(url, { ca: certificate.cert, transport: "http2" })).rejects.toThrow(
      /no_application_protocol|no application protocol|does not speak HTTP\/2/i,
    );
  });

  it("a client that forces the WebSocket gets it from a full server too", async () => {
    const fixture = await startHub();
    await fixture.hub.register("echo", (data: unknown) => data);
    const remote = await connectHttps(fixture.listener.url.replace("https:", "wss:"), {
      ca: fixture.listener.certificate,
    });
    expect(remote.transport).toBe("websocket");
    expect(await remote.call("echo", 7)).toBe(7);
    await remote.close();
    await fixture.close();
  });
});

describe("TLS failures", () => {
  let fixture: HttpsFixture;
  let expired: HttpsFixture;

  beforeAll(async () => {
    fixture = await startHub();
    const day = 24 * 60 * 60 * 1000;
    const old = await createDevCertificate({
      notBefore: new Date(Date.now() - 30 * day),
      notAfter: new Date(Date.now() - day),
    });
    expired = await startHub({ cert: old.cert, key: old.key });
  });

  afterAll(async () => {
    await fixture?.close();
    await expired?.close();
  });

  it.each(["auto", "http2", "websocket"] as const)(
    "an untrusted certificate (%s) says verification failed",
    async (transport) => {
      const attempt = connectHttps(fixture.listener.url, { transport });
      await expect(attempt).rejects.toBeInstanceOf(TlsError);
      await expect(attempt).rejects.toMatchObject({
        code: "ETLS_UNTRUSTED",
        tlsCode: "DEPTH_ZERO_SELF_SIGNED_CERT",
      });
      await expect(attempt).rejects.toThrow(/certificate verification failed/);
    },
  );

  it.each(["auto", "http2", "websocket"] as const)(
    "an expired certificate (%s) says it expired",
    async (transport) => {
      const attempt = connectHttps(expired.listener.url, { ca: expired.listener.certificate, transport });
      await expect(attempt).rejects.toMatchObject({ code: "ETLS_EXPIRED", tlsCode: "CERT_HAS_EXPIRED" });
      await expect(attempt).rejects.toThrow(/certificate has expired/);
    },
  );

  it("a certificate for another host says so", async () => {
    const attempt = connectHttps(fixture.listener.url, {
      ca: fixture.listener.certificate,
      servername: "elsewhere.example",
    });
    await expect(attempt).rejects.toMatchObject({ code: "ETLS_HOSTNAME" });
  });

  it("nobody listening is a ConnectError, without a fallback attempt", async () => {
    const gone = await startHub();
    const url = gone.listener.url;
    await gone.close();
    const attempt = connectHttps(url, { ca: fixture.listener.certificate });
    await expect(attempt).rejects.toBeInstanceOf(ConnectError);
    await expect(attempt).rejects.toThrow(/ECONNREFUSED/);
  });
});

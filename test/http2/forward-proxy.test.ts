// Reaching a hub through a forward HTTP proxy (HTTP CONNECT), as sites behind strict firewalls
// do: the proxy rules of curl, and a real tinyproxy from Debian with Basic credentials.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Hub } from "../../hub/hub.js";
import { connectHttps } from "../../hub/remote/connect-https.js";
import { listenHttps } from "../../hub/remote/listen-https.js";
import { proxyFor } from "../../transports/http2/forward-proxy.js";
import type { HttpsListener } from "../../transports/http2/listen.js";
import {
  installTinyproxy,
  PROXY_SOURCE_ADDRESS,
  startTinyproxy,
  type Tinyproxy,
} from "../helpers/tinyproxy.js";

const hub = new URL("https://hub.example.com:8443");

describe("which proxy a hub URL goes through", () => {
  it("follows HTTPS_PROXY and NO_PROXY as curl does; an explicit option wins", () => {
    const env = { HTTPS_PROXY: "http://proxy:3128", NO_PROXY: "localhost, .internal,other.example.com:8443" };
    expect(proxyFor(hub, undefined, env)?.host).toBe("proxy:3128");
    expect(proxyFor(hub, undefined, { https_proxy: "proxy:3128" })?.href).toBe("http://proxy:3128/");
    expect(proxyFor(new URL("https://db.internal"), undefined, env)).toBeUndefined();
    expect(proxyFor(new URL("https://internal"), undefined, env)).toBeUndefined();
    expect(proxyFor(new URL("https://localhost:1"), undefined, env)).toBeUndefined();
    expect(proxyFor(new URL("https://other.example.com:8443"), undefined, env)).toBeUndefined();
    expect(proxyFor(new URL("https://other.example.com:9443"), undefined, env)).toBeDefined();
    expect(proxyFor(hub, undefined, { ...env, NO_PROXY: "*" })).toBeUndefined();
    expect(proxyFor(hub, false, env)).toBeUndefined();
    expect(proxyFor(new URL("https://localhost"), "http://explicit:1", env)?.host).toBe("explicit:1");
    expect(proxyFor(hub, undefined, {})).toBeUndefined();
    expect(() => proxyFor(hub, "https://tls-proxy:443", {})).toThrow(
      expect.objectContaining({ code: "EPROXY" }),
    );
  });
});

describe("through a real forward proxy (tinyproxy)", () => {
  let tinyproxy: Tinyproxy | undefined;
  let skip: string | undefined;
  const server = new Hub();
  let listener: HttpsListener;
  const sources: string[] = [];

  beforeAll(async () => {
    const installed = await installTinyproxy();
    if (installed.path === undefined) {
      skip = `tinyproxy is not available: ${installed.reason}`;
      console.warn(`skipping the tinyproxy tests: ${skip}`);
      return;
    }
    tinyproxy = await startTinyproxy(installed.path);
    await server.register("where", () => "through the proxy");
    listener = await listenHttps(server, { host: "127.0.0.1", port: 0 });
    listener.server.on("secureConnection", (socket) => sources.push(String(socket.remoteAddress)));
  }, 320_000);

  afterAll(async () => {
    await listener?.close();
    await server.close();
    await tinyproxy?.stop();
  });

  for (const transport of ["http2", "websocket"] as const) {
    it(`opens a ${transport} session inside the proxy's tunnel`, async (context) => {
      if (skip !== undefined) return context.skip(skip);
      sources.length = 0;
      const client = await connectHttps(listener.url, {
        ca: listener.certificate,
        transport,
        proxy: tinyproxy!.url,
        reconnect: false,
        timeout: 10_000,
      });
      try {
        expect(await client.call("where")).toBe("through the proxy");
        // The hub saw the connection come from the proxy's outgoing address, not from us.
        expect(sources).toEqual([PROXY_SOURCE_ADDRESS]);
        expect(tinyproxy!.log()).toContain(`CONNECT 127.0.0.1:${listener.port}`);
      } finally {
        await client.close();
      }
    });
  }

  it("takes the proxy from HTTPS_PROXY, and names a refusal (407 without credentials)", async (context) => {
    if (skip !== undefined) return context.skip(skip);
    const saved = process.env.HTTPS_PROXY;
    process.env.HTTPS_PROXY = tinyproxy!.url;
    try {
      sources.length = 0;
      const client = await connectHttps(listener.url, {
        ca: listener.certificate,
        reconnect: false,
        timeout: 10_000,
      });
      expect(await client.call("where")).toBe("through the proxy");
      await client.close();
      expect(sources).toEqual([PROXY_SOURCE_ADDRESS]);
      process.env.HTTPS_PROXY = `http://127.0.0.1:${tinyproxy!.port}`;
      await expect(
        connectHttps(listener.url, {
          ca: listener.certificate,
          transport: "http2",
          reconnect: false,
          timeout: 10_000,
        }),
      ).rejects.toMatchObject({ code: "EPROXY", status: 407 });
    } finally {
      if (saved === undefined) delete process.env.HTTPS_PROXY;
      else process.env.HTTPS_PROXY = saved;
    }
  });
});

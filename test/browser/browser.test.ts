// The browser client (browser/, bundled to dist/browser/beamhub.js) in headless Chromium
// against a hub on localhost: an HTTPS server with an ordinary route serving the page and the
// bundle, and beamhub attached on the same port. The page connects over the WebSocket fallback
// with a bearer token, discovers, calls, receives events on a channel, round-trips a byte
// stream, reads a byte-stream broadcast from a subscription (SHA-256 checked), sees typed
// errors, serves a call from Node, and reports back through page.evaluate.
//
// Certificate trust: Chromium is told to accept exactly the test's development certificate
// with --ignore-certificate-errors-spki-list=<base64 SHA-256 of its SubjectPublicKeyInfo>
// (honoured because the profile is a fresh --user-data-dir); every other certificate error
// still fails.
import { createHash } from "node:crypto";
import { createSecureServer, type Http2SecureServer } from "node:http2";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { transform } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildBrowserBundle } from "../../browser/build.js";
import {
  type AttachedHub,
  attachHub,
  type ByteStream,
  type Channel,
  createDevCertificate,
  Hub,
} from "../../index.js";
import { within } from "../compliance/suite.js";
import {
  chromiumUnavailable,
  launchChromium,
  type LaunchedChromium,
  trustCertificateFlag,
} from "./chromium.js";
import type { ScenarioResult } from "./page.js";

const TOKEN = "browser-secret";
const unavailable = await chromiumUnavailable();
if (unavailable !== undefined) console.warn(`skipping the browser tests: ${unavailable}`);

describe.skipIf(unavailable !== undefined)("browser client in headless Chromium", () => {
  let hub: Hub;
  let server: Http2SecureServer;
  let attached: AttachedHub;
  let chromium: LaunchedChromium | undefined;
  let origin: string;

  beforeAll(async () => {
    const [bundle, pageSource, certificate] = await Promise.all([
      buildBrowserBundle({ write: false }).then(({ result }) => result),
      readFile(fileURLToPath(new URL("./page.ts", import.meta.url)), "utf8"),
      createDevCertificate(),
    ]);
    const assets: Record<string, { type: string; body: string | Uint8Array }> = {
      "/": {
        type: "text/html; charset=utf-8",
        body: '<!doctype html><meta charset="utf-8"><title>beamhub</title><script type="module" src="/page.js"></script>',
      },
      "/beamhub.js": { type: "text/javascript", body: bundle.outputFiles![0]!.contents },
      "/page.js": {
        type: "text/javascript",
        body: (await transform(pageSource, { loader: "ts", format: "esm", target: "es2022" })).code,
      },
    };

    hub = new Hub();
    await hub.register("echo", (data: unknown) => data);
    await hub.register("whoami", (_data: unknown, context) => context.caller.identity?.id);
    await hub.register("ticker", async ({ out, count }: { out: Channel; count: number }) => {
      for (let i = 0; i < count; i++) await out.send({ tick: i });
      out.close();
    });
    await hub.register("invert", ({ stream }: { stream: ByteStream }) => {
      const invert = new TransformStream<Uint8Array, Uint8Array>({
        transform: (chunk, out) => out.enqueue(chunk.map((byte) => ~byte & 0xff)),
      });
      void stream.readable
        .pipeThrough(invert)
        .pipeTo(stream.writable)
        .catch(() => undefined);
    });
    // Broadcasts `size` deterministic bytes to `channel`; answers their SHA-256 once written.
    await hub.register("broadcast", async ({ channel, size }: { channel: string; size: number }) => {
      const bytes = new Uint8Array(size).map((_, i) => (i * 31 + (i >> 8)) & 0xff);
      const { stream } = await hub.broadcast(channel, { size });
      const writer = stream.writable.getWriter();
      for (let offset = 0; offset < size; offset += 64 * 1024)
        await writer.write(bytes.slice(offset, offset + 64 * 1024));
      await writer.close();
      return createHash("sha256").update(bytes).digest("hex");
    });
    await hub.register("relay", ({ name, data }: { name: string; data: unknown }) => hub.call(name, data));

    server = createSecureServer({ ...certificate, allowHTTP1: true });
    // The application's own route: the page and the bundle.
    server.on("request", (request, response) => {
      const asset = assets[request.url ?? ""];
      if (asset === undefined) {
        response.writeHead(404).end();
        return;
      }
      response.writeHead(200, { "content-type": asset.type, "cache-control": "no-store" });
      response.end(asset.body);
    });
    attached = attachHub(hub, server, {
      requireAuth: true,
      authenticate: (token) => (token === TOKEN ? { id: "page-user" } : undefined),
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    origin = `https://127.0.0.1:${(server.address() as { port: number }).port}`;
    chromium = await launchChromium([trustCertificateFlag(certificate.cert)]);
  });

  afterAll(async () => {
    await chromium?.close();
    await attached?.detach();
    if (server?.listening)
      await within(new Promise((resolve) => server.close(resolve)), 5000, "server.close").catch(
        () => undefined,
      );
    await hub?.close();
  });

  it("discovers, calls, receives events, round-trips a byte stream and serves a call", async () => {
    const { page, log } = chromium!;
    await page.goto(`${origin}/`, { timeout: 10_000 });
    await page.waitForFunction("typeof globalThis.runScenario === 'function'", undefined, {
      timeout: 10_000,
    });
    let result: ScenarioResult;
    try {
      result = await within(
        page.evaluate<ScenarioResult>(`runScenario(${JSON.stringify(TOKEN)})`),
        15_000,
        "the page's scenario",
      );
    } catch (error) {
      throw new Error(`${(error as Error).message}\npage log:\n${log.join("\n")}`, { cause: error });
    }
    expect(result.transport).toBe("websocket");
    expect(result.services).toEqual(["broadcast", "echo", "invert", "relay", "ticker", "whoami"]);
    expect(result.echo).toEqual({ hello: "browser", bytes: [1, 2, 3, 255], nested: { n: 42 } });
    expect(result.whoami).toBe("page-user");
    expect(result.events).toEqual([0, 1, 2, 3, 4].map((tick) => ({ tick })));
    expect(result.streamBytes).toBe(300 * 1024);
    expect(result.streamMatches).toBe(true);
    expect(result.notFound).toEqual({
      isServiceNotFound: true,
      isBeamhubError: true,
      code: "ESERVICE_NOT_FOUND",
    });
    expect(result.callback).toBe(42);
    expect(result.badToken).toEqual({ name: "ConnectError", code: "ECONNECT" });
    expect(result.closedWith).toMatch(/closed by this side/);
    // The broadcast's copy, read in the browser over the WebSocket, hashes as what was written.
    expect(result.broadcast).toMatchObject({ data: { size: 1024 * 1024 }, bytes: 1024 * 1024 });
    expect(result.broadcast.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(result.broadcast.sha256).toBe(result.broadcast.publisherSha256);
    // The server saw the session end: the page's service went away with it.
    await within(
      (async () => {
        while ((await hub.lookup("browser.double")).length > 0)
          await new Promise((resolve) => setTimeout(resolve, 20));
      })(),
      3000,
      "the page's service to be unregistered",
    );
  });
});

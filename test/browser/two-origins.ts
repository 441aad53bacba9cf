// Two origins and a hub that allows one of them, for the browser tests of the hub's CORS and
// Origin checks (cross-origin.test.ts, pubsub-eventsource.test.ts): two HTTPS servers on
// 127.0.0.1 that serve an empty page each (two ports, so two origins), a hub behind
// `listenHttps` with `allowOrigins: [allowed]`, and a headless Chromium that trusts exactly the
// development certificate all three share.
import { createSecureServer, type Http2SecureServer } from "node:http2";
import { createDevCertificate, type HttpsListener, Hub, listenHttps } from "../../index.js";
import { within } from "../compliance/suite.js";
import { launchChromium, type LaunchedChromium, trustCertificateFlag } from "./chromium.js";

/** What {@link startTwoOrigins} started; `close()` stops all of it. */
export interface TwoOrigins {
  hub: Hub;
  /** The hub's HTTPS listener; it allows requests from {@link allowed} only. */
  listener: HttpsListener;
  chromium: LaunchedChromium;
  /** The origin the hub allows (`https://127.0.0.1:<port>`). */
  allowed: string;
  /** Another origin, which the hub does not allow. */
  evil: string;
  /** The development certificate and key all three serve (for another listener on the hub). */
  certificate: { cert: string; key: string };
  close(): Promise<void>;
}

/** An HTTPS server on 127.0.0.1 serving an empty page; resolves with its origin. */
async function pageServer(certificate: { cert: string; key: string }, servers: Http2SecureServer[]) {
  const server = createSecureServer({ ...certificate, allowHTTP1: true });
  server.on("request", (_request, response) => {
    response.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    response.end('<!doctype html><meta charset="utf-8"><title>a page</title>');
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `https://127.0.0.1:${(server.address() as { port: number }).port}`;
}

/**
 * Starts the two page servers, a hub (`prepare` registers its services before it listens) and
 * Chromium. Whatever started is stopped again when a later step fails.
 */
export async function startTwoOrigins(prepare?: (hub: Hub) => Promise<unknown>): Promise<TwoOrigins> {
  const servers: Http2SecureServer[] = [];
  const hub = new Hub();
  let listener: HttpsListener | undefined;
  let chromium: LaunchedChromium | undefined;
  const close = async (): Promise<void> => {
    await chromium?.close();
    await listener?.close();
    for (const server of servers.splice(0)) {
      // A page server Chromium still holds a connection to may not close: bounded, and moved on.
      await within(new Promise((resolve) => server.close(resolve)), 5000, "a page server to close").catch(
        () => undefined,
      );
    }
    await hub.close();
  };
  try {
    const certificate = await createDevCertificate();
    const allowed = await pageServer(certificate, servers);
    const evil = await pageServer(certificate, servers);
    await prepare?.(hub);
    listener = await listenHttps(hub, { ...certificate, allowOrigins: [allowed], log: () => undefined });
    chromium = await launchChromium([trustCertificateFlag(certificate.cert)]);
    return { hub, listener, chromium, allowed, evil, certificate, close };
  } catch (error) {
    await close();
    throw error;
  }
}

// The "auto" client bounds an HTTP/2 session's first bytes (response, then HELLO) and falls back
// to the WebSocket when they do not come, as behind a proxy that buffers request bodies. Real
// TLS and HTTP/2 servers that accept the session request and then say nothing.
import { createSecureServer, type Http2SecureServer, type ServerHttp2Session } from "node:http2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type CertificatePair,
  ConnectError,
  connectHttps,
  createDevCertificate,
  type HttpsListener,
  Hub,
  listenHttps,
  TransportUnavailableError,
} from "../../index.js";
import { within } from "./helpers.js";

let certificate: CertificatePair;

/** An HTTP/2-only server whose session requests get `answer` (nothing, or headers only). */
async function silentServer(answer: "nothing" | "headers"): Promise<{ url: string; close(): Promise<void> }> {
  const server: Http2SecureServer = createSecureServer({ cert: certificate.cert, key: certificate.key });
  const sessions = new Set<ServerHttp2Session>();
  server.on("session", (session: ServerHttp2Session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
  server.on("stream", (stream) => {
    stream.on("error", () => undefined);
    if (answer === "headers") stream.respond({ ":status": 200, "content-type": "application/beamhub" });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `https://127.0.0.1:${port}`,
    close: async () => {
      for (const session of sessions) session.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** The error `connectHttps` rejects with (bounded: 8 s). */
async function failureOf(url: string, options: Parameters<typeof connectHttps>[1]): Promise<unknown> {
  return within(
    connectHttps(url, { ca: certificate.cert, ...options }).then(
      async (remote) => {
        await remote.close();
        throw new Error(`connected to ${url} over ${remote.transport}`);
      },
      (error: unknown) => error,
    ),
    8000,
    `connectHttps(${url}) to fail`,
  );
}

beforeAll(async () => {
  certificate = await createDevCertificate();
});

describe("the first-byte deadline of an auto client", () => {
  it("gives up on an HTTP/2 session request nobody answers after firstByteTimeout, not the connect timeout", async () => {
    const server = await silentServer("nothing");
    try {
      const error = await failureOf(server.url, { timeout: 5000, firstByteTimeout: 300 });
      // The WebSocket fallback fails too here (an HTTP/2-only server): both reasons are kept.
      expect(error).toBeInstanceOf(TransportUnavailableError);
      const [http2] = (error as TransportUnavailableError).errors;
      expect(http2).toBeInstanceOf(ConnectError);
      expect((http2 as ConnectError).code).toBe("ECONNECT");
      expect((http2 as Error).message).toMatch(
        /sent no response within 300 ms of the HTTP\/2 session request/,
      );
    } finally {
      await server.close();
    }
  });

  it("also bounds the HELLO after a response", async () => {
    const server = await silentServer("headers");
    try {
      const error = await failureOf(server.url, { timeout: 5000, firstByteTimeout: 300 });
      expect(error).toBeInstanceOf(TransportUnavailableError);
      const [http2] = (error as TransportUnavailableError).errors;
      expect((http2 as Error).message).toMatch(/sent no HELLO within 300 ms/);
    } finally {
      await server.close();
    }
  });

  it("does not apply to transport http2, which has nowhere to fall back to", async () => {
    const server = await silentServer("nothing");
    try {
      const error = await failureOf(server.url, { transport: "http2", timeout: 600, firstByteTimeout: 100 });
      expect(error).toBeInstanceOf(ConnectError);
      expect((error as Error).message).toMatch(/did not answer the session request within 600 ms/);
    } finally {
      await server.close();
    }
  });

  it("refuses a firstByteTimeout that is not a positive number of ms", async () => {
    for (const firstByteTimeout of [0, -5, Number.NaN, Number.POSITIVE_INFINITY]) {
      await expect(connectHttps("https://127.0.0.1:9", { firstByteTimeout })).rejects.toMatchObject({
        code: "EINVALID_ARGUMENT",
        message: expect.stringContaining("firstByteTimeout must be a positive number"),
      });
    }
  });

  describe("with a hub that answers", () => {
    let hub: Hub;
    let listener: HttpsListener;
    beforeAll(async () => {
      hub = new Hub();
      await hub.register("echo", (data: unknown) => data);
      listener = await listenHttps(hub, { cert: certificate.cert, key: certificate.key });
    });
    afterAll(async () => {
      await listener?.close();
      await hub?.close();
    });

    it("stays on HTTP/2 and has no fallback cause", async () => {
      const remote = await connectHttps(listener.url, { ca: certificate.cert, firstByteTimeout: 1500 });
      try {
        expect(remote.transport).toBe("http2");
        expect(remote.fallbackCause).toBeUndefined();
        expect(await remote.call("echo", { over: "http2" })).toEqual({ over: "http2" });
      } finally {
        await remote.close();
      }
    });
  });
});

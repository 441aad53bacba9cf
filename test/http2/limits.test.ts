// Limits of an HTTPS hub: message size, sessions per identity, and the timeouts that drop
// slow-loris handshakes, sessions that never say HELLO, silent peers and idle connections.
import { connect as netConnect } from "node:net";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  connectHttps,
  type HttpsRefusal,
  type HttpsRemoteHub,
  InvalidMessageError,
  SessionRefusedError,
} from "../../index.js";
import { FrameType } from "../../wire/frame.js";
import {
  clientHello,
  frameCollector,
  rawHttp2,
  rawSessionStream,
  startHub,
  within,
  type HttpsFixture,
} from "./helpers.js";

let fixture: HttpsFixture;
/** What the listener reported as refused (`onRefused`). */
const refusals: HttpsRefusal[] = [];

beforeAll(async () => {
  fixture = await startHub({
    limits: { maxFrameSize: 64 * 1024 },
    maxSessionsPerIdentity: 2,
    authenticate: (token) => ({ id: token }),
    handshakeTimeout: 300,
    keepAlive: 200,
    idleTimeout: 400,
    onRefused: (refusal) => refusals.push(refusal),
  });
  await fixture.hub.register("echo", (data: unknown) => data);
});

afterAll(async () => {
  await fixture?.close();
});

function connect(token: string, transport: "http2" | "websocket" = "http2"): Promise<HttpsRemoteHub> {
  return connectHttps(fixture.listener.url, { ca: fixture.listener.certificate, token, transport });
}

function closedWithin(socket: TLSSocket | ReturnType<typeof netConnect>, ms: number): Promise<number> {
  const started = Date.now();
  socket.on("error", () => undefined);
  socket.resume();
  return within(
    new Promise((resolve) => socket.once("close", () => resolve(Date.now() - started))),
    ms,
    "the server to drop the connection",
  );
}

describe("limits", () => {
  it("refuses a message above the hub's maxFrameSize, and the session goes on", async () => {
    const remote = await connect("big");
    await expect(remote.call("echo", "x".repeat(100 * 1024))).rejects.toBeInstanceOf(InvalidMessageError);
    expect(await remote.call("echo", "small")).toBe("small");
    await remote.close();
  });

  it.each(["http2", "websocket"] as const)(
    "refuses a third session of one identity with 429 (%s)",
    async (transport) => {
      const first = await connect("carol", transport);
      const second = await connect("carol", "http2");
      const third = connect("carol", transport);
      await expect(third).rejects.toBeInstanceOf(SessionRefusedError);
      await expect(third).rejects.toMatchObject({ status: 429, code: "ETOO_MANY_SESSIONS" });
      // Reported like a 401/403 (code, the message the peer got): the operator sees it. (The
      // second case's refusal is of the same kind, left out of the reports for 10 s.)
      await expect
        .poll(() => refusals.find((r) => r.status === 429), { timeout: 5000 })
        .toMatchObject({
          code: "ETOO_MANY_SESSIONS",
          reason: "at most 2 sessions per identity (token:carol)",
        });
      const someoneElse = await connect("dave", transport);
      await first.close();
      await expect.poll(() => fixture.listener.sessionCount, { timeout: 2000 }).toBe(2);
      const again = await connect("carol", transport);
      expect(await again.call("echo", 1)).toBe(1);
      await Promise.all([second.close(), someoneElse.close(), again.close()]);
    },
  );
});

describe("timeouts", () => {
  it("drops a TCP connection that never starts TLS", async () => {
    const socket = netConnect(fixture.listener.port, "127.0.0.1");
    expect(await closedWithin(socket, 3000)).toBeLessThan(2000);
  });

  it.each([["h2"], ["http/1.1"]])(
    "drops a TLS connection (%s) that sends no request (slow loris)",
    async (alpn) => {
      const socket = tlsConnect({
        host: "127.0.0.1",
        port: fixture.listener.port,
        ca: fixture.listener.certificate,
        ALPNProtocols: [alpn],
      });
      expect(await closedWithin(socket, 3000)).toBeLessThan(2000);
    },
  );

  it("ends a session stream that never sends HELLO", async () => {
    const session = rawHttp2(fixture.listener);
    const stream = rawSessionStream(session);
    const { frames, ended } = frameCollector(stream);
    await within(ended, 3000, "the session stream to end");
    expect(frames.some((frame) => frame.type === FrameType.GOAWAY)).toBe(true);
    session.destroy();
  });

  it("pings a quiet session and ends one whose peer stopped answering", async () => {
    const session = rawHttp2(fixture.listener);
    const stream = rawSessionStream(session);
    const { frames, ended } = frameCollector(stream);
    stream.write(clientHello()); // ... and then never a PONG
    const started = Date.now();
    await within(ended, 3000, "the silent session to end");
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
    expect(frames.some((frame) => frame.type === FrameType.PING)).toBe(true);
    session.destroy();
  });

  it("keeps a live but quiet session open: its client answers the pings", async () => {
    const remote = await connect("patient");
    await new Promise((resolve) => setTimeout(resolve, 1000)); // 5 keep-alive intervals
    expect(remote.connection.isClosed).toBe(false);
    expect(await remote.call("echo", "awake")).toBe("awake");
    await remote.close();
  });

  it("closes an HTTP/1.1 connection that stays idle after its request", async () => {
    const socket = tlsConnect({
      host: "127.0.0.1",
      port: fixture.listener.port,
      ca: fixture.listener.certificate,
      ALPNProtocols: ["http/1.1"],
    });
    await within(new Promise((resolve) => socket.once("secureConnect", resolve)), 3000, "TLS");
    socket.write("GET /beamhub/v1/services HTTP/1.1\r\nhost: hub\r\nauthorization: Bearer erin\r\n\r\n");
    const response = await within(
      new Promise<Buffer>((resolve) => socket.once("data", resolve)),
      3000,
      "the response",
    );
    expect(response.toString()).toMatch(/^HTTP\/1.1 200/);
    expect(await closedWithin(socket, 3000)).toBeLessThan(2000);
  });
});

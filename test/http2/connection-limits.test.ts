// Connections that never end and connections without end: the per-socket deadline from TCP
// accept until a session or a complete request, the caps on connections in total and per
// address, and the (rate-limited) log lines an operator gets when either acts. Real TLS
// sockets, HTTP/2 frames written by hand where no library would send them.
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectHttps } from "../../index.js";
import { RateLimitedLog } from "../../transports/http2/rate-limited-log.js";
import { clientHello, startHub, within, type HttpsFixture } from "./helpers.js";
import {
  headersThenStrayContinuation,
  rawH2Socket,
  sessionWithHello,
  strayContinuation,
} from "./raw-frames.js";

/** Resolves when `socket` closes (the server dropped it), within `ms`. */
function closed(socket: Socket | TLSSocket, ms: number, what: string): Promise<void> {
  socket.on("error", () => undefined);
  socket.resume(); // read, so the server's close is seen
  if (socket.destroyed) return Promise.resolve();
  return within(new Promise((resolve) => socket.once("close", () => resolve())), ms, what);
}

/** Waits until `condition()` holds (polling), within `ms`. */
async function until(condition: () => boolean, ms: number, what: string): Promise<void> {
  await within(
    (async () => {
      while (!condition()) await new Promise((resolve) => setTimeout(resolve, 20));
    })(),
    ms,
    what,
  );
}

/** A TLS connection that completed its handshake (h2 offered), left idle. */
async function idleTls(fixture: HttpsFixture): Promise<TLSSocket> {
  const socket = tlsConnect({
    host: fixture.listener.host,
    port: fixture.listener.port,
    ca: fixture.listener.certificate,
    servername: "localhost",
    ALPNProtocols: ["h2"],
  });
  socket.on("error", () => undefined);
  await within(new Promise((resolve) => socket.once("secureConnect", resolve)), 5000, "TLS");
  return socket;
}

/** A TLS connection attempt: resolves "connected" after the handshake, "refused" if closed first. */
function tlsAttempt(fixture: HttpsFixture): Promise<{ outcome: "connected" | "refused"; socket: TLSSocket }> {
  const socket = tlsConnect({
    host: fixture.listener.host,
    port: fixture.listener.port,
    ca: fixture.listener.certificate,
    servername: "localhost",
  });
  socket.on("error", () => undefined);
  return within(
    new Promise((resolve) => {
      socket.once("secureConnect", () => resolve({ outcome: "connected", socket }));
      socket.once("close", () => resolve({ outcome: "refused", socket }));
    }),
    5000,
    "a TLS connection attempt",
  );
}

describe("the per-connection deadline", () => {
  let fixture: HttpsFixture;
  const lines: string[] = [];

  beforeAll(async () => {
    // The idle timeout is far away: only the deadline can end these connections in time.
    fixture = await startHub({
      handshakeTimeout: 300,
      establishTimeout: 600,
      tlsHandshakeTimeout: 60_000,
      idleTimeout: 60_000,
      log: (line) => lines.push(line),
    });
    await fixture.hub.register(
      "slow",
      () => new Promise((resolve) => setTimeout(() => resolve("late"), 1200)),
    );
  });

  afterAll(async () => {
    await fixture?.close();
  });

  it.each([
    ["a session request", "/beamhub/v1/session", "application/beamhub"],
    ["a plain call", "/beamhub/v1/call/slow", "application/json"],
    ["another route", "/elsewhere", "text/plain"],
  ])(
    "destroys the socket of %s left open, then broken by a CONTINUATION on another stream",
    async (_what, path, type) => {
      const socket = await rawH2Socket(fixture.listener);
      socket.write(headersThenStrayContinuation(path, type));
      await closed(socket, 5000, "the server to destroy the held connection");
      await until(() => fixture.listener.connectionCount === 0, 3000, "the connection to be forgotten");
      expect(
        lines.some((line) =>
          /dropped a connection from 127\.0\.0\.1: no session or complete request/.test(line),
        ),
      ).toBe(true);
    },
  );

  it("destroys a TCP connection that never starts TLS", async () => {
    const socket = netConnect(fixture.listener.port, fixture.listener.host);
    await closed(socket, 5000, "the server to drop a silent TCP connection");
  });

  it("destroys a TLS connection that never sends a request", async () => {
    const socket = await idleTls(fixture);
    await closed(socket, 5000, "the server to drop an idle TLS connection");
  });

  it("leaves an established session alone past the deadline", async () => {
    const remote = await connectHttps(fixture.listener.url, { ca: fixture.listener.certificate });
    await new Promise((resolve) => setTimeout(resolve, 1200)); // twice the deadline
    expect(remote.connection.isClosed).toBe(false);
    expect(await remote.list()).toBeInstanceOf(Array);
    await remote.close();
  });

  it("lets a plain call outlast the deadline once its request is complete", async () => {
    const session = (await import("node:http2")).connect(fixture.listener.url, {
      ca: fixture.listener.certificate,
    });
    session.on("error", () => undefined);
    try {
      const stream = session.request({
        ":method": "POST",
        ":path": "/beamhub/v1/call/slow",
        "content-type": "application/json",
      });
      stream.end("null");
      let body = "";
      stream.setEncoding("utf8");
      stream.on("data", (chunk: string) => (body += chunk));
      const status = await within(
        new Promise<number>((resolve) =>
          stream.once("response", (headers) => resolve(Number(headers[":status"]))),
        ),
        5000,
        "the slow call's reply",
      );
      await within(new Promise((resolve) => stream.once("end", resolve)), 5000, "the reply body");
      expect(status).toBe(200);
      expect(JSON.parse(body)).toBe("late");
    } finally {
      session.destroy();
    }
  });
});

describe("an established session broken by a stray CONTINUATION", () => {
  let fixture: HttpsFixture;
  const lines: string[] = [];

  beforeAll(async () => {
    // Keep-alive notices the dead session quickly; the idle timeout is far away.
    fixture = await startHub({ keepAlive: 200, idleTimeout: 60_000, log: (line) => lines.push(line) });
  });

  afterAll(async () => {
    await fixture?.close();
  });

  it("destroys the connection once the session on it has ended and its stream cannot", async () => {
    const socket = await rawH2Socket(fixture.listener);
    socket.write(sessionWithHello(clientHello()));
    await until(() => fixture.listener.sessionCount === 1, 3000, "the session to open");
    await new Promise((resolve) => setTimeout(resolve, 100)); // its HELLO exchange completes
    socket.write(strayContinuation(3));
    await closed(socket, 6000, "the server to destroy the broken connection");
    expect(fixture.listener.sessionCount).toBe(0);
    expect(lines.join("\n")).toMatch(
      /destroyed a connection from 127\.0\.0\.1: its ended session's HTTP\/2 stream would not close/,
    );
  });
});

describe("connection caps", () => {
  let fixture: HttpsFixture;
  const lines: string[] = [];

  beforeAll(async () => {
    fixture = await startHub({
      maxConnectionsPerAddress: 3,
      maxConnections: 5,
      establishTimeout: 0, // idle connections stay: the caps are what is tested here
      log: (line) => lines.push(line),
    });
  });

  afterAll(async () => {
    await fixture?.close();
  });

  it("refuses connections over the per-address cap at accept, logs it once, and admits again later", async () => {
    const held = await Promise.all([idleTls(fixture), idleTls(fixture), idleTls(fixture)]);
    await until(() => fixture.listener.connectionCount === 3, 3000, "three connections counted");
    for (let attempt = 0; attempt < 10; attempt += 1) {
      const { outcome } = await tlsAttempt(fixture);
      expect(outcome).toBe("refused");
    }
    const capLines = lines.filter((line) => line.includes("--max-connections-per-address"));
    expect(capLines).toHaveLength(1); // ten refusals, one line (rate-limited)
    expect(capLines[0]).toMatch(/refused a connection from 127\.0\.0\.1: it holds the maximum of 3/);

    held[0]?.destroy();
    await until(() => fixture.listener.connectionCount === 2, 3000, "the closed connection to be forgotten");
    const again = await tlsAttempt(fixture);
    expect(again.outcome).toBe("connected");
    for (const socket of [...held, again.socket]) socket.destroy();
    await until(() => fixture.listener.connectionCount === 0, 3000, "all connections to close");
  });
});

describe("the total cap and trusted proxies", () => {
  let fixture: HttpsFixture;
  const lines: string[] = [];

  beforeAll(async () => {
    // 127.0.0.1 is a trusted proxy: exempt from the per-address cap, not from the total.
    fixture = await startHub({
      maxConnectionsPerAddress: 1,
      maxConnections: 3,
      establishTimeout: 0,
      trustedProxies: ["127.0.0.0/8"],
      log: (line) => lines.push(line),
    });
  });

  afterAll(async () => {
    await fixture?.close();
  });

  it("exempts a trusted proxy from the per-address cap but refuses over the total cap", async () => {
    const held = await Promise.all([idleTls(fixture), idleTls(fixture), idleTls(fixture)]);
    await until(() => fixture.listener.connectionCount === 3, 3000, "three connections counted");
    expect((await tlsAttempt(fixture)).outcome).toBe("refused");
    expect(lines.some((line) => /maximum of 3 connections \(--max-connections\)/.test(line))).toBe(true);
    for (const socket of held) socket.destroy();
  });
});

describe("RateLimitedLog", () => {
  it("writes one line per kind per interval, then says how many were left out", () => {
    let now = 0;
    const written: string[] = [];
    const log = new RateLimitedLog(
      (line) => written.push(line),
      1000,
      () => now,
    );
    for (let index = 0; index < 5; index += 1) log.log("a", "flood");
    log.log("b", "other");
    now = 1500;
    log.log("a", "flood");
    expect(written).toEqual(["flood", "other", "flood (and 4 more like it since the last such line)"]);
  });
});

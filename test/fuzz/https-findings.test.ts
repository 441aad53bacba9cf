// Regression tests for what the HTTPS fuzzers (https.test.ts) found, each reduced to the
// smallest input that shows it, against a fresh `beamhub serve`.
import { connect as tlsConnect } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { concat } from "./mutate.js";
import { fdCount, startFuzzTarget, type FuzzTarget } from "./target.js";
import { H2_PREFACE, recordHttp2 } from "./tls-traffic.js";

let target: FuzzTarget;
let sessionRequest: Uint8Array;

beforeAll(async () => {
  target = await startFuzzTarget();
  // A real client's opening: preface, SETTINGS, and the HEADERS of POST /beamhub/v1/session
  // (END_HEADERS, no END_STREAM), cut from recorded bytes at the end of that frame.
  const [recorded] = await recordHttp2(
    target.server.httpsUrl,
    target.certDir,
    target.ca,
    target.bystanderService,
  );
  sessionRequest = upToFirstHeaders(recorded!);
});

afterAll(async () => {
  await target?.close();
});

/** The bytes up to the end of the first HEADERS frame (HTTP/2 frames: 9-byte headers after the preface). */
function upToFirstHeaders(bytes: Uint8Array): Uint8Array {
  let offset = H2_PREFACE.length;
  while (offset + 9 <= bytes.length) {
    const length = (bytes[offset]! << 16) | (bytes[offset + 1]! << 8) | bytes[offset + 2]!;
    const type = bytes[offset + 3];
    offset += 9 + length;
    if (type === 0x01) return bytes.slice(0, offset);
  }
  throw new Error("no HEADERS frame in the recording");
}

async function sendAndClose(bytes: Uint8Array): Promise<void> {
  const socket = tlsConnect({
    host: "127.0.0.1",
    port: Number(new URL(target.server.httpsUrl).port),
    ca: target.ca,
    servername: "localhost",
    ALPNProtocols: ["h2"],
  });
  socket.on("error", () => undefined);
  socket.resume();
  await new Promise((resolve) => socket.once("secureConnect", resolve));
  socket.write(bytes);
  await new Promise((resolve) => setTimeout(resolve, 200));
  socket.destroy();
}

/** The hub's open fds before and after `connections` clients sent `bytes` and closed. */
async function fdsAfter(bytes: Uint8Array, connections: number): Promise<{ before: number; after: number }> {
  const before = await fdCount(target.pid);
  for (let i = 0; i < connections; i++) await sendAndClose(bytes);
  // The hub sees each close at once; a few seconds cover any deferred clean-up.
  let after = await fdCount(target.pid);
  for (let waited = 0; after > before && waited < 2500; waited += 200) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    after = await fdCount(target.pid);
  }
  return { before, after };
}

/** Sends `request` over TLS as HTTP/1.1 and returns what came back before the hub closed. */
async function http1(request: string): Promise<string> {
  const socket = tlsConnect({
    host: "127.0.0.1",
    port: Number(new URL(target.server.httpsUrl).port),
    ca: target.ca,
    servername: "localhost",
    ALPNProtocols: ["http/1.1"],
  });
  socket.on("error", () => undefined);
  let received = "";
  socket.on("data", (chunk: Buffer) => (received += chunk.toString("latin1")));
  await new Promise((resolve) => socket.once("secureConnect", resolve));
  socket.write(request);
  // Until the status line and headers are in, or the hub closed, or 3 s passed.
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 3000);
    const done = (): void => {
      clearTimeout(timer);
      resolve();
    };
    socket.on("data", () => received.includes("\r\n\r\n") && done());
    socket.once("close", done);
  });
  socket.destroy();
  return received;
}

const upgradeTo = (path: string): string =>
  `GET ${path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
  "Sec-WebSocket-Protocol: beamhub.v1\r\n\r\n";

describe("requests outside beamhub's prefix (met by the plain-mapping fuzzer)", () => {
  it("a plain GET outside beamhub's prefix gets a status", async () => {
    expect(await http1("GET /elsewhere HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")).toMatch(
      /^HTTP\/1\.1 404 /,
    );
  });

  // Seen in attach.ts while tracing the fuzzer's plain 404s for paths outside the prefix (the
  // fuzzer itself speaks HTTP/2, which has no upgrades): a WebSocket upgrade to a path that is
  // not beamhub's WebSocket path is torn down with no
  // answer at all (transports/http2/attach.ts: `socket.destroy()` when no other upgrade
  // listener exists), where HTTP has a status for it (404). A client sees a reset connection,
  // not a refusal it can report. For transports/http2: answer `HTTP/1.1 404` (a JSON {code}
  // body under beamhub's prefix) and then close.
  it("a WebSocket upgrade to a path that is not beamhub's gets a status, not a reset", async () => {
    expect(await http1(upgradeTo("/elsewhere"))).toMatch(/^HTTP\/1\.1 404 /);
  });

  it("a WebSocket upgrade to beamhub's path upgrades (the control)", async () => {
    expect(await http1(upgradeTo("/beamhub/v1/ws"))).toMatch(/^HTTP\/1\.1 101 /);
  });
});

describe("findings of the HTTP/2 frame fuzzer", () => {
  it("a client that closes after a complete session request leaves no socket behind", async () => {
    const { before, after } = await fdsAfter(sessionRequest, 3);
    expect(after).toBeLessThanOrEqual(before);
  });

  // Found by https.test.ts ("survives mutated HTTP/2 frames"): a session request (HEADERS
  // without END_STREAM) followed by the first bytes of a frame whose header declares more than
  // SETTINGS_MAX_FRAME_SIZE (here 16 MiB - 1 of DATA on the same stream), then the client closes
  // its socket. The hub keeps each such socket open for good: 3 connections, 3 fds more, still
  // there after the client is gone (and after 15 s in the fuzz run). A plain
  // `http2.createSecureServer` on Node 20.20 does the same, so the root is in node:http2; the
  // defence belongs in transports/http2 (destroy the session when its socket closes or ends,
  // and bound every connection by a deadline until its first complete request).
  it.fails("a client that closes mid-frame after a session request leaves no socket behind", async () => {
    const oversized = Uint8Array.of(0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01);
    const { before, after } = await fdsAfter(concat([sessionRequest, oversized]), 3);
    expect(after).toBeLessThanOrEqual(before);
  });
});

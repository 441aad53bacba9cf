// A beamhub session between two hubs through a relay that sees only ciphertext.
import { createPrivateKey } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CertificateAuthority } from "../../federation/pki/authority.js";
import { TrustStore } from "../../federation/pki/trust-store.js";
import type { HubIdentity } from "../../federation/tunnel/handshake.js";
import { RecordReader } from "../../federation/tunnel/record-framing.js";
import { openTunnel } from "../../federation/tunnel/secure-tunnel.js";
import { Hub } from "../../hub/hub.js";
import { serveHubSession } from "../../hub/remote/hub-server.js";
import { RemoteHub } from "../../hub/remote/remote-hub.js";
import { ByteStream } from "../../model/byte-stream.js";
import { DEFAULT_CODECS } from "../../wire/config.js";
import { openSession } from "../../wire/open-session.js";
import { within } from "../compliance/suite.js";

let dir: string;
let trust: TrustStore;
let site1: HubIdentity;
let site2: HubIdentity;
let stranger: HubIdentity;

async function identity(ca: CertificateAuthority, id: string): Promise<HubIdentity> {
  const issued = await ca.issue(id);
  return { id, chain: issued.certificate, key: createPrivateKey(issued.key) };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-tunnel-"));
  const ca = await CertificateAuthority.init(join(dir, "ca"));
  trust = new TrustStore(ca.rootPem);
  site1 = await identity(ca, "proxy1.broker");
  site2 = await identity(ca, "proxy2.broker");
  stranger = await identity(await CertificateAuthority.init(join(dir, "other")), "proxy1.broker");
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/**
 * Two byte-stream pairs joined by a relay in the middle, as the broker joins two sites: `tamper`
 * sees (and may change) every chunk going from the initiator to the responder.
 */
function relayed(tamper: (chunk: Uint8Array, index: number) => Uint8Array = (chunk) => chunk) {
  const [initiatorEnd, relayIn] = ByteStream.pair();
  const [relayOut, responderEnd] = ByteStream.pair();
  const seen: Buffer[] = [];
  const inPort = relayIn.openPort()!;
  const outPort = relayOut.openPort()!;
  let index = 0;
  inPort.start({
    data: (chunk) => {
      seen.push(Buffer.from(chunk));
      outPort.write(tamper(chunk, index++));
    },
    end: () => outPort.end(),
    drain: () => undefined,
    reset: (error) => relayOut.reset(error),
  });
  outPort.start({
    data: (chunk) => {
      seen.push(Buffer.from(chunk));
      inPort.write(chunk);
    },
    end: () => inPort.end(),
    drain: () => undefined,
    reset: (error) => relayIn.reset(error),
  });
  return { initiatorEnd, responderEnd, seen };
}

describe("an end-to-end tunnel between two hubs through a relay", () => {
  it("carries a full session — calls, reply channels, byte streams — and the relay sees no plaintext", async () => {
    const { initiatorEnd, responderEnd, seen } = relayed();
    const [a, b] = await within(
      Promise.all([
        openTunnel(initiatorEnd, { role: "initiator", self: site1, trust, peer: site2.id }),
        openTunnel(responderEnd, { role: "responder", self: site2, trust }),
      ]),
      10_000,
      "tunnel handshake",
    );
    expect(a.peer.id).toBe("proxy2.broker");
    expect(b.peer.id).toBe("proxy1.broker");

    const hub = new Hub();
    await hub.register("secret.echo", async (data: { text: string; stream: ByteStream }) => {
      const chunks: Buffer[] = [];
      for await (const chunk of data.stream.readable) chunks.push(Buffer.from(chunk));
      return { text: `${data.text} / ${Buffer.concat(chunks).toString()}` };
    });
    const server = openSession(b.transport, { role: "server", codecs: DEFAULT_CODECS });
    serveHubSession(hub, server.connection, { id: b.peer.id, via: "tunnel" });
    const client = openSession(a.transport, { role: "client", codecs: DEFAULT_CODECS });
    await within(
      Promise.all([client.connection.ready, server.connection.ready]),
      10_000,
      "HELLOs through the tunnel",
    );
    const remote = new RemoteHub(client.connection);
    try {
      const [mine, theirs] = ByteStream.pair();
      const writer = mine.writable.getWriter();
      void writer.write(Buffer.from("PLAINTEXT-IN-A-STREAM")).then(() => writer.close());
      const reply = await within(
        remote.call<{ text: string }>("secret.echo", { text: "PLAINTEXT-IN-A-CALL", stream: theirs }),
        10_000,
        "call through the tunnel",
      );
      expect(reply.text).toBe("PLAINTEXT-IN-A-CALL / PLAINTEXT-IN-A-STREAM");
      const relayed = Buffer.concat(seen);
      expect(relayed.length).toBeGreaterThan(100);
      for (const secret of ["PLAINTEXT", "secret.echo", "IN-A-STREAM"])
        expect(relayed.includes(Buffer.from(secret))).toBe(false);
    } finally {
      await remote.close();
      await hub.close();
    }
  });

  it("fails with ETUNNEL_AUTH when the relay flips one byte after the handshake, and delivers nothing altered", async () => {
    let flipped = false;
    const { initiatorEnd, responderEnd } = relayed((chunk, index) => {
      if (index < 1 || flipped || chunk.length < 30) return chunk;
      flipped = true;
      const copy = Buffer.from(chunk);
      copy[copy.length - 20]! ^= 0x01;
      return copy;
    });
    const [a, b] = await within(
      Promise.all([
        openTunnel(initiatorEnd, { role: "initiator", self: site1, trust, peer: site2.id }),
        openTunnel(responderEnd, { role: "responder", self: site2, trust }),
      ]),
      10_000,
      "tunnel handshake",
    );
    const received: Buffer[] = [];
    const closed = new Promise<Error | undefined>((resolve) =>
      b.transport.start({ data: (chunk) => received.push(Buffer.from(chunk)), closed: resolve }),
    );
    a.transport.start({ data: () => undefined, closed: () => undefined });
    a.transport.write([Buffer.from("a message the relay will alter on its way")], []);
    const error = await within(closed, 10_000, "the altered record to be refused");
    expect(error).toMatchObject({ code: "ETUNNEL_AUTH" });
    expect(received).toEqual([]);
    expect(flipped).toBe(true);
  });

  it("cuts records across a session's chunks: a frame's header and its 64 KiB payload travel in full records", async () => {
    const forward = new RecordReader();
    let records = 0;
    const { initiatorEnd, responderEnd } = relayed((chunk) => {
      records += forward.push(chunk).length;
      return chunk;
    });
    const [a, b] = await within(
      Promise.all([
        openTunnel(initiatorEnd, { role: "initiator", self: site1, trust, peer: site2.id }),
        openTunnel(responderEnd, { role: "responder", self: site2, trust }),
      ]),
      10_000,
      "tunnel handshake",
    );
    const hello = records;
    // As a session writes stream data: 8 frames, each a 13-byte header and a 64 KiB payload.
    const chunks = Array.from({ length: 8 }, (_, frame) => [
      Buffer.alloc(13, frame),
      Buffer.alloc(65_536, 100 + frame),
    ]).flat();
    const total = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
    const received: Buffer[] = [];
    let bytes = 0;
    const all = new Promise<void>((resolve) =>
      b.transport.start({
        data: (chunk) => {
          received.push(Buffer.from(chunk));
          bytes += chunk.byteLength;
          if (bytes >= total) resolve();
        },
        closed: () => resolve(),
      }),
    );
    a.transport.start({ data: () => undefined, closed: () => undefined });
    a.transport.write(chunks, []);
    await within(all, 10_000, "every byte through the tunnel");
    expect(Buffer.concat(received).equals(Buffer.concat(chunks))).toBe(true);
    // 8 full records of 64 KiB and one of the 104 bytes left, not 16 (8 of them 13 bytes long).
    expect(records - hello).toBe(Math.ceil(total / 65_536));
    a.transport.abort?.();
  });

  it("refuses a peer whose certificate another authority signed, or that claims another hub", async () => {
    for (const [initiator, expected] of [
      [stranger, /refused/],
      [{ ...site1, id: "proxy3.broker" }, /certificate of "proxy3.broker" was refused/],
    ] as const) {
      const { initiatorEnd, responderEnd } = relayed();
      const outcome = Promise.allSettled([
        openTunnel(initiatorEnd, {
          role: "initiator",
          self: initiator,
          trust,
          peer: site2.id,
          timeoutMs: 5_000,
        }),
        openTunnel(responderEnd, { role: "responder", self: site2, trust, timeoutMs: 5_000 }),
      ]);
      const [first, second] = await within(outcome, 10_000, "the refused handshake");
      expect(second.status).toBe("rejected");
      expect((second as PromiseRejectedResult).reason).toMatchObject({
        code: "ETUNNEL_HANDSHAKE",
        message: expect.stringMatching(expected),
      });
      expect(first.status).toBe("rejected");
    }
  });
});

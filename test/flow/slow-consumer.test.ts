// A session whose peer does not read is closed with a typed reason: SlowConsumerError
// (ESLOW_CONSUMER) locally, a GOAWAY with that code for the peer — after slowConsumerTimeout
// above the transport's mark, or at once past maxUnsentBytes.
import { describe, expect, it } from "vitest";
import { cborCodec } from "../../codecs/index.js";
import { FdSocket, socketPair } from "../../fd/index.js";
import { transportFor } from "../../transports/unix/unix-transport.js";
import { WireConnection, type ConnectionOptions } from "../../wire/connection.js";
import { SlowConsumerError } from "../../wire/errors.js";
import { within } from "../compliance/suite.js";
import { helloFrame } from "./raw-peer.js";

/** A server session whose peer said HELLO (without event credit) and then reads nothing. */
async function sessionWithFrozenPeer(
  limits: Omit<ConnectionOptions, "role" | "codecs">,
): Promise<{ connection: WireConnection; peer: FdSocket }> {
  const [a, b] = socketPair();
  const peer = FdSocket.fromFd(b);
  peer.write(helloFrame());
  peer.pause();
  const connection = new WireConnection(transportFor(FdSocket.fromFd(a)), {
    ...limits,
    role: "server",
    codecs: [cborCodec],
  });
  await within(connection.ready, 3000, "the HELLOs");
  return { connection, peer };
}

const kilobyte = "x".repeat(1024);

describe("a peer that does not read", () => {
  it("is dropped after slowConsumerTimeout with SlowConsumerError", async () => {
    const { connection, peer } = await sessionWithFrozenPeer({ slowConsumerTimeout: 300 });
    try {
      // 4 MiB of events: far past the socket's 1 MiB mark (the peer grants no event credit).
      for (let i = 0; i < 4096; i++) void connection.root.send(kilobyte).catch(() => undefined);
      const reason = await within(connection.closed, 5000, "the session to close");
      expect(reason).toBeInstanceOf(SlowConsumerError);
      expect(reason).toMatchObject({ code: "ESLOW_CONSUMER" });
      expect(reason?.message).toMatch(/300 ms/);
    } finally {
      connection.close();
      peer.destroy();
    }
  });

  it("is dropped at once past maxUnsentBytes", async () => {
    const { connection, peer } = await sessionWithFrozenPeer({
      slowConsumerTimeout: 60_000,
      maxUnsentBytes: 2 * 1024 * 1024,
    });
    try {
      for (let i = 0; i < 8192; i++) void connection.root.send(kilobyte).catch(() => undefined);
      const reason = await within(connection.closed, 5000, "the session to close");
      expect(reason).toBeInstanceOf(SlowConsumerError);
      expect(reason?.message).toMatch(/maxUnsentBytes/);
    } finally {
      connection.close();
      peer.destroy();
    }
  });
});

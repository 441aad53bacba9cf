// Two sessions over a real socketpair in this process (FdSockets, the Unix transport's own).
import { cborCodec } from "../../codecs/index.js";
import { FdSocket, socketPair } from "../../fd/index.js";
import { transportFor } from "../../transports/unix/unix-transport.js";
import { WireConnection, type ConnectionOptions } from "../../wire/connection.js";

type Limits = Omit<ConnectionOptions, "role" | "codecs">;

/** A client and a server session joined by a socketpair; both HELLOs exchanged. */
export async function sessionPair(
  clientLimits: Limits = {},
  serverLimits: Limits = {},
): Promise<{ client: WireConnection; server: WireConnection; close(): void }> {
  const [a, b] = socketPair();
  const client = new WireConnection(transportFor(FdSocket.fromFd(a)), {
    ...clientLimits,
    role: "client",
    codecs: [cborCodec],
  });
  const server = new WireConnection(transportFor(FdSocket.fromFd(b)), {
    ...serverLimits,
    role: "server",
    codecs: [cborCodec],
  });
  await Promise.all([client.ready, server.ready]);
  return {
    client,
    server,
    close() {
      client.close();
      server.close();
    },
  };
}

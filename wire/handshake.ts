import type { Codec } from "../codecs/reference.js";
import type { ConnectionConfig } from "./config.js";
import { ProtocolError } from "./errors.js";
import { encodeHello, PROTOCOL_NAME, PROTOCOL_VERSION, type Hello } from "./hello.js";

/** This side's HELLO payload (PROTOCOL.md "Handshake"); `fds` says whether fds may travel. */
export function ownHello(config: ConnectionConfig, fds: boolean): Uint8Array {
  return encodeHello({
    protocol: PROTOCOL_NAME,
    version: PROTOCOL_VERSION,
    codecs: config.codecs.map((codec) => codec.name),
    maxFrameSize: config.maxFrameSize,
    streamWindow: config.streamWindow,
    fds,
    eventWindow: config.eventWindow,
    maxStreams: config.maxStreams,
    maxChannels: config.maxChannels,
  });
}

/**
 * The session codec: the first of the client's codecs that the server also speaks, computed
 * alike on both sides from the two HELLOs. None in common is a protocol error (`ECODEC`).
 */
export function agreeOnCodec(role: "client" | "server", mine: readonly Codec[], peer: Hello): Codec {
  const names = mine.map((codec) => codec.name);
  const clientOrder = role === "client" ? names : peer.codecs;
  const serverSide = role === "client" ? peer.codecs : names;
  const chosen = clientOrder.find((name) => serverSide.includes(name));
  if (chosen === undefined) {
    throw new ProtocolError(
      "ECODEC",
      `no codec in common (client offers ${clientOrder.join(", ")}; server speaks ${serverSide.join(", ")})`,
    );
  }
  return mine.find((codec) => codec.name === chosen)!;
}

import { ProtocolError } from "./errors.js";

/** The protocol name every HELLO carries; anything else is not a beamhub peer. */
export const PROTOCOL_NAME = "beamhub";
/** The session protocol version this code speaks. */
export const PROTOCOL_VERSION = 1;

/** The HELLO frame's payload (UTF-8 JSON), PROTOCOL.md "Handshake". */
export interface Hello {
  protocol: string;
  version: number;
  /** Codec names in order of preference; the server's HELLO names exactly the one chosen. */
  codecs: string[];
  /** The largest frame payload this side accepts. */
  maxFrameSize: number;
  /** The initial receive window of every byte stream, in bytes. */
  streamWindow: number;
  /** Whether this side can send and receive file descriptors on this connection. */
  fds: boolean;
  /**
   * Events the peer may send on one channel before waiting for credit (WINDOW on the channel's
   * id). Absent: this side grants no event credit, and the peer sends events without it.
   */
  eventWindow?: number;
  /** Byte streams opened by the peer that this side keeps open at once; more are refused (RESET ELIMIT). */
  maxStreams?: number;
  /** Channels opened by the peer that this side keeps open at once; more are refused (CLOSE ELIMIT). */
  maxChannels?: number;
}

/** The optional HELLO limits (PROTOCOL.md "Handshake"): integers from 1 to 2^32-1 when present. */
const OPTIONAL_LIMITS = ["eventWindow", "maxStreams", "maxChannels"] as const;

export function encodeHello(hello: Hello): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(hello));
}

/** Parses and checks a HELLO payload; a wrong protocol or version is a `ProtocolError`. */
export function decodeHello(payload: Uint8Array): Hello {
  let hello: Partial<Hello>;
  try {
    hello = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(payload)) as Partial<Hello>;
  } catch (error) {
    throw new ProtocolError("EHELLO", "HELLO payload is not UTF-8 JSON", { cause: error });
  }
  if (hello === null || typeof hello !== "object" || hello.protocol !== PROTOCOL_NAME) {
    throw new ProtocolError(
      "EHELLO",
      `peer does not speak ${PROTOCOL_NAME} (protocol ${JSON.stringify(hello?.protocol)})`,
    );
  }
  if (hello.version !== PROTOCOL_VERSION) {
    throw new ProtocolError(
      "EVERSION",
      `peer speaks protocol version ${JSON.stringify(hello.version)}, this side speaks ${PROTOCOL_VERSION}`,
    );
  }
  const codecs = hello.codecs;
  if (!Array.isArray(codecs) || codecs.length === 0 || !codecs.every((name) => typeof name === "string")) {
    throw new ProtocolError("EHELLO", "HELLO must list at least one codec");
  }
  for (const field of ["maxFrameSize", "streamWindow"] as const) {
    const value = hello[field];
    if (typeof value !== "number" || !Number.isInteger(value) || value < 1024 || value > 0xffffffff) {
      throw new ProtocolError("EHELLO", `HELLO ${field} must be an integer from 1024 to 2^32-1`);
    }
  }
  const decoded: Hello = {
    protocol: PROTOCOL_NAME,
    version: PROTOCOL_VERSION,
    codecs,
    maxFrameSize: hello.maxFrameSize!,
    streamWindow: hello.streamWindow!,
    fds: hello.fds === true,
  };
  for (const field of OPTIONAL_LIMITS) {
    const value = hello[field];
    if (value === undefined) continue;
    if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > 0xffffffff) {
      throw new ProtocolError("EHELLO", `HELLO ${field} must be an integer from 1 to 2^32-1`);
    }
    decoded[field] = value;
  }
  return decoded;
}

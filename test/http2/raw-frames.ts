// HTTP/2 written by hand over a raw TLS socket, for tests that must send what no HTTP/2 client
// library will: frames in an order the protocol forbids. Only the bytes those tests need.
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import type { HttpsListener } from "../../index.js";
import { within } from "./helpers.js";

/** The client connection preface (RFC 9113 §3.4). */
export const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

export const FRAME = { DATA: 0, HEADERS: 1, SETTINGS: 4, CONTINUATION: 9 } as const;
export const FLAG = { END_STREAM: 0x1, END_HEADERS: 0x4 } as const;

/** One frame: 9-byte header (length, type, flags, stream id) and the payload. */
export function h2Frame(
  type: number,
  flags: number,
  streamId: number,
  payload: Uint8Array = Buffer.alloc(0),
): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(streamId, 5);
  return Buffer.concat([header, payload]);
}

/**
 * A HPACK header block for `POST <path>` over https: `:method: POST` and `:scheme: https` from
 * the static table (indexes 3 and 7), `:path` and `:authority` as literals without indexing
 * (RFC 7541 §6.2.2; names by static index 4 and 1), and `content-type` the same way.
 */
export function postHeaderBlock(path: string, contentType: string): Buffer {
  const literal = (nameIndex: number, value: string): Buffer => {
    const bytes = Buffer.from(value);
    if (bytes.length > 126) throw new Error("postHeaderBlock: value too long for a 7-bit length");
    return Buffer.concat([Buffer.from([nameIndex, bytes.length]), bytes]);
  };
  return Buffer.concat([
    Buffer.from([0x83, 0x87]),
    literal(0x04, path),
    literal(0x01, "localhost"),
    // content-type is static index 31: above the 4-bit prefix, so 0x0f then 31 - 15 = 0x10.
    Buffer.from([0x0f, 0x10, Buffer.byteLength(contentType)]),
    Buffer.from(contentType),
  ]);
}

/** A TLS connection to `listener` that negotiated h2, with no HTTP/2 library on top. */
export async function rawH2Socket(listener: HttpsListener): Promise<TLSSocket> {
  const socket = tlsConnect({
    host: listener.host,
    port: listener.port,
    ca: listener.certificate,
    servername: "localhost",
    ALPNProtocols: ["h2"],
  });
  socket.on("error", () => undefined);
  await within(new Promise((resolve) => socket.once("secureConnect", resolve)), 5000, "TLS with h2");
  if (socket.alpnProtocol !== "h2")
    throw new Error(`the server chose ${String(socket.alpnProtocol)}, not h2`);
  socket.resume(); // read and drop what the server sends
  return socket;
}

/**
 * The trick that makes `node:http2` hold a connection: a request on stream 1 whose HEADERS
 * end the header block but not the stream, then a CONTINUATION frame on stream 3 (a
 * connection error: CONTINUATION must follow HEADERS of the same stream). nghttp2 answers
 * GOAWAY and then waits for stream 1, which can no longer finish.
 */
export function headersThenStrayContinuation(path: string, contentType: string): Buffer {
  return Buffer.concat([
    PREFACE,
    h2Frame(FRAME.SETTINGS, 0, 0),
    h2Frame(FRAME.HEADERS, FLAG.END_HEADERS, 1, postHeaderBlock(path, contentType)),
    h2Frame(FRAME.CONTINUATION, FLAG.END_HEADERS, 3, Buffer.from([0x82])),
  ]);
}

/**
 * A session opened by hand: the request on stream 1 (not ended) and a DATA frame with the
 * client's HELLO, so the server's session becomes established.
 */
export function sessionWithHello(hello: Uint8Array): Buffer {
  return Buffer.concat([
    PREFACE,
    h2Frame(FRAME.SETTINGS, 0, 0),
    h2Frame(
      FRAME.HEADERS,
      FLAG.END_HEADERS,
      1,
      postHeaderBlock("/beamhub/v1/session", "application/beamhub"),
    ),
    h2Frame(FRAME.DATA, 0, 1, hello),
  ]);
}

/** A CONTINUATION frame on a stream that has no header block open: a connection error. */
export function strayContinuation(streamId: number): Buffer {
  return h2Frame(FRAME.CONTINUATION, FLAG.END_HEADERS, streamId, Buffer.from([0x82]));
}

/**
 * The messages of a link between two hubs (PROTOCOL.md, "Cluster links"): each NATS message is
 *
 *     type:u8  link:8 bytes  seq:u32 (big-endian)  body
 *
 * `seq` counts the messages one side sent on the link, from 0: the receiver checks it, so a
 * message NATS lost (a reconnect, a slow-consumer cut) resets the link instead of corrupting it.
 * @module
 */

/** What a link message carries. */
export enum LinkMessageType {
  /** Session bytes. */
  DATA = 1,
  /** Body: u32 — the receiver took this many more bytes; the sender may send them. */
  CREDIT = 2,
  /** The sender closed its side after what it sent. */
  END = 3,
  /** Body: a UTF-8 reason — the link is dead; everything on it fails. */
  RESET = 4,
}

/** The bytes before a message's body. */
export const LINK_HEADER_BYTES = 13;
/** Bytes of a link id. */
export const LINK_ID_BYTES = 8;

/** A decoded link message (its body is a view into the received bytes). */
export interface LinkMessage {
  readonly type: LinkMessageType;
  /** The link id as 16 hex digits. */
  readonly link: string;
  readonly seq: number;
  readonly body: Uint8Array;
}

/** Encodes a link message; `body` is copied after the header. */
export function encodeLinkMessage(
  type: LinkMessageType,
  link: Uint8Array,
  seq: number,
  body: Uint8Array = EMPTY,
): Uint8Array {
  const bytes = new Uint8Array(LINK_HEADER_BYTES + body.byteLength);
  bytes[0] = type;
  bytes.set(link, 1);
  new DataView(bytes.buffer).setUint32(1 + LINK_ID_BYTES, seq >>> 0);
  bytes.set(body, LINK_HEADER_BYTES);
  return bytes;
}

/** Decodes a link message, or returns undefined for bytes that are not one. */
export function decodeLinkMessage(bytes: Uint8Array): LinkMessage | undefined {
  if (bytes.byteLength < LINK_HEADER_BYTES) return undefined;
  const type = bytes[0]!;
  if (type < LinkMessageType.DATA || type > LinkMessageType.RESET) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    type,
    link: Buffer.from(bytes.buffer, bytes.byteOffset + 1, LINK_ID_BYTES).toString("hex"),
    seq: view.getUint32(1 + LINK_ID_BYTES),
    body: bytes.subarray(LINK_HEADER_BYTES),
  };
}

/** A u32 credit body. */
export function creditBody(bytes: number): Uint8Array {
  const body = new Uint8Array(4);
  new DataView(body.buffer).setUint32(0, bytes);
  return body;
}

/** The byte count of a CREDIT body, or undefined when it is not 4 bytes. */
export function readCredit(body: Uint8Array): number | undefined {
  if (body.byteLength !== 4) return undefined;
  return new DataView(body.buffer, body.byteOffset, 4).getUint32(0);
}

const EMPTY = new Uint8Array(0);

/** A WebSocket frame's payload and kind, as the face sends it to an Mles member. */
export interface MlesFrame {
  readonly data: string | Uint8Array;
  readonly binary: boolean;
}

/**
 * What an Mles member publishes for a frame it sent: a text frame as a `string`, a binary one
 * as a `Uint8Array` — verbatim, so a beamhub subscriber gets the bytes or text the client sent.
 */
export function publicationOf(payload: Buffer, isBinary: boolean): string | Uint8Array {
  if (isBinary) return new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength);
  return payload.toString("utf8");
}

/**
 * The frame an Mles member receives for a publication: a `string` as a text frame, bytes as
 * a binary frame (so Mles frames go back out verbatim), any other value as its JSON in a text
 * frame. A value JSON cannot write (a BigInt, a cycle) has no Mles form: `undefined`.
 */
export function frameOf(data: unknown): MlesFrame | undefined {
  if (typeof data === "string") return { data, binary: false };
  if (data instanceof Uint8Array) return { data, binary: true };
  try {
    const json = JSON.stringify(data);
    return { data: json ?? "null", binary: false };
  } catch {
    return undefined;
  }
}

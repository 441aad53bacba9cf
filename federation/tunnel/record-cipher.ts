import { createCipheriv, createDecipheriv } from "node:crypto";
import { TunnelAuthError } from "./errors.js";

/**
 * One direction of a tunnel: ChaCha20-Poly1305 with the record's sequence number as its nonce.
 * Both ends count, so a record dropped, repeated or moved fails authentication at the receiver
 * just as an altered one does.
 */
export class RecordCipher {
  readonly #key: Buffer;
  #sequence = 0n;

  constructor(key: Buffer) {
    this.#key = key;
  }

  seal(plaintext: Uint8Array): Buffer {
    return this.sealFramed([plaintext]).subarray(4);
  }

  /**
   * Seals `pieces` (at most MAX_RECORD - 16 bytes in all) as one record and returns it framed
   * (its 4-byte length in front), ready to write: one record out of several chunks, and one copy
   * of the ciphertext into the frame instead of two.
   */
  sealFramed(pieces: readonly Uint8Array[]): Buffer {
    const cipher = createCipheriv("chacha20-poly1305", this.#key, this.#nonce(), { authTagLength: 16 });
    const parts = pieces.map((piece) => cipher.update(piece));
    parts.push(cipher.final());
    let length = 16;
    for (const part of parts) length += part.length;
    const framed = Buffer.allocUnsafe(4 + length);
    framed.writeUInt32BE(length, 0);
    let offset = 4;
    for (const part of parts) offset += part.copy(framed, offset);
    cipher.getAuthTag().copy(framed, offset);
    return framed;
  }

  open(record: Buffer): Buffer {
    const sequence = this.#sequence;
    if (record.length < 16) throw new TunnelAuthError(`record ${sequence} is shorter than its tag`);
    const decipher = createDecipheriv("chacha20-poly1305", this.#key, this.#nonce(), { authTagLength: 16 });
    decipher.setAuthTag(record.subarray(record.length - 16));
    try {
      const plaintext = decipher.update(record.subarray(0, record.length - 16));
      const rest = decipher.final(); // empty for a stream cipher: no second copy of the record
      return rest.length === 0 ? plaintext : Buffer.concat([plaintext, rest]);
    } catch (error) {
      throw new TunnelAuthError(
        `record ${sequence} failed authentication: altered, dropped or replayed on the way`,
        { cause: error },
      );
    }
  }

  #nonce(): Buffer {
    const nonce = Buffer.alloc(12);
    nonce.writeBigUInt64BE(this.#sequence, 4);
    this.#sequence += 1n;
    return nonce;
  }
}

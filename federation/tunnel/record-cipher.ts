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
    const cipher = createCipheriv("chacha20-poly1305", this.#key, this.#nonce(), { authTagLength: 16 });
    return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  }

  open(record: Buffer): Buffer {
    const sequence = this.#sequence;
    if (record.length < 16) throw new TunnelAuthError(`record ${sequence} is shorter than its tag`);
    const decipher = createDecipheriv("chacha20-poly1305", this.#key, this.#nonce(), { authTagLength: 16 });
    decipher.setAuthTag(record.subarray(record.length - 16));
    try {
      return Buffer.concat([decipher.update(record.subarray(0, record.length - 16)), decipher.final()]);
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

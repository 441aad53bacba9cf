import { BeamhubError } from "../base/error.js";

/**
 * Any failure of the kv layer: invalid input to the encoder, a value that is not the type asked
 * for, a broken log file. Decoding failures are the subclass {@link KvDecodeError}.
 */
export class KvError extends BeamhubError {}

/**
 * Bytes that are not a valid kv message (or kv record stream). `offset` is the position, counted
 * from the start of the bytes given to the decoder, of the first byte that could not be accepted,
 * so a hex dump of the input points straight at the problem.
 *
 * Codes: `EKV_HEADER` (missing or unknown `000;` header), `EKV_DIGIT` (a length is not decimal
 * digits followed by `:`), `EKV_LEADING_ZERO` (a length such as `05`), `EKV_TOO_LONG` (a length
 * above the configured maximum), `EKV_TRUNCATED` (the input or the enclosing netstring ends
 * before the declared length), `EKV_COMMA` (the byte after a netstring's content is not `,`),
 * `EKV_DUPLICATE_KEY`, `EKV_KEY_ORDER` (non-canonical key order, in strict mode), `EKV_UTF8`
 * (a key or value that must be text is not UTF-8), `EKV_CHANGE` (a malformed change record).
 */
export class KvDecodeError extends KvError {
  /** Byte offset of the problem within the decoded input. */
  readonly offset: number;
  /** The message without the offset, for re-raising at another offset. */
  readonly reason: string;

  constructor(code: string, reason: string, offset: number, options?: { cause?: unknown }) {
    super(code, `${reason} (at byte ${offset})`, options);
    this.offset = offset;
    this.reason = reason;
  }
}

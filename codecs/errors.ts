import { BeamhubError } from "../base/error.js";

/**
 * Any failure of a codec, including misuse such as an invalid {@link Ref} or a protobuf schema
 * that lacks a type. Encoding and decoding failures are the subclasses below.
 */
export class CodecError extends BeamhubError {}

/** A value the codec cannot encode (code `EENCODE`). `cause` holds the underlying error, if any. */
export class EncodeError extends CodecError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("EENCODE", message, options);
  }
}

/**
 * Bytes the codec cannot decode (code `EDECODE`): malformed, truncated, or not of the expected
 * shape. `offset` is the byte position of the problem when the codec knows it.
 */
export class DecodeError extends CodecError {
  readonly offset: number | undefined;

  constructor(message: string, options?: { cause?: unknown; offset?: number }) {
    super("EDECODE", message, options);
    this.offset = options?.offset;
  }
}

/**
 * The error to throw for a failure while encoding: our own errors (including any a
 * {@link RefHooks} implementation throws) pass unchanged, anything else (a library's
 * TypeError, a stack overflow on a cyclic value) becomes an {@link EncodeError}.
 */
export function encodeFailure(codec: string, error: unknown): Error {
  if (error instanceof BeamhubError) return error;
  return new EncodeError(`${codec}: cannot encode: ${describe(error)}`, { cause: error });
}

/** Like {@link encodeFailure}, for decoding: foreign errors become a {@link DecodeError}. */
export function decodeFailure(codec: string, error: unknown): Error {
  if (error instanceof BeamhubError) return error;
  return new DecodeError(`${codec}: malformed input: ${describe(error)}`, { cause: error });
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

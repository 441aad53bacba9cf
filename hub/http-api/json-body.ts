import type { Readable } from "node:stream";
import { DecodeError } from "../../codecs/errors.js";
import { jsonCodec } from "../../codecs/index.js";
import type { RefHooks } from "../../codecs/reference.js";
import { ClosedError } from "../../model/errors.js";
import type { ApiRequest } from "../../transports/http2/http-replies.js";
import { Refusal } from "../../transports/http2/refusal.js";

/**
 * The plain mapping carries data only: a plain HTTP client has no session in which a channel,
 * stream or descriptor could live, so the reference forms of the JSON codec (`{"$channel": 5}`,
 * ...) are refused rather than passed on as references nobody allocated. A client that means
 * the object itself escapes it: `{"$": {"$channel": 5}}`.
 */
const PLAIN_DATA_ONLY: RefHooks = {
  toRef: () => {
    throw new DecodeError("unexpected attachment while decoding");
  },
  fromRef: (ref) => {
    throw new DecodeError(
      `{"$${ref.kind}": ${ref.id}} is a reference, and the plain HTTP mapping carries data only; to send such an object as data, escape it as {"$": {...}}`,
    );
  },
};

/**
 * A call's body must be declared JSON (`application/json`, optionally `; charset=utf-8`).
 * Besides naming the format, this keeps web pages out: a browser sends `text/plain`, form
 * types or nothing without asking the server first (a "simple" cross-site request), while
 * `application/json` from another site needs a CORS preflight the hub answers only for
 * allowed origins.
 */
export function checkJsonContentType(header: string | undefined): void {
  if (header === "application/json") return; // what nearly every client sends: no split, no regex
  const [type = "", ...parameters] = (header ?? "").split(";").map((part) => part.trim().toLowerCase());
  const charsetOk = parameters.every(
    (parameter) => /^charset="?utf-8"?$/.test(parameter) || parameter === "",
  );
  if (type === "application/json" && charsetOk) return;
  throw new Refusal(
    415,
    "ECONTENT_TYPE",
    `a call's body is JSON: send content-type: application/json (got ${
      header === undefined ? "none" : JSON.stringify(header.slice(0, 100))
    })`,
    "UnsupportedMediaTypeError",
  );
}

/**
 * Reads a request body of at most `limit` bytes (else 413) and decodes it as plain JSON data
 * (FORMATS.md's JSON form: `{"$bytes": ...}` for binary); an empty body is `null`. Decoded as
 * the body ends, inside the one promise the read makes (issue 19: each `async` step was a
 * promise and a microtask turn per request).
 */
export function readJsonBody(request: ApiRequest, limit: number): Promise<unknown> {
  return readBody(request, limit, decodeJsonBody);
}

function decodeJsonBody(body: Uint8Array): unknown {
  if (body.byteLength === 0) return null;
  try {
    return jsonCodec.decode(body, PLAIN_DATA_ONLY);
  } catch (error) {
    throw new Refusal(
      400,
      "EINVALID_JSON",
      `the request body is not valid JSON: ${(error as Error).message}`,
      "InvalidJsonError",
    );
  }
}

/**
 * The body in one buffer, given to `decode`, read with `data` events: an async iterator costs a promise and an
 * iterator result per chunk, and was ~13 % of the mapping's own work per request (issue 19). A
 * body past `limit` is refused (413) and the request destroyed, as leaving the loop of an async
 * iterator did: the rest of an oversized upload is not read (an HTTP/1.1 connection whose body
 * had arrived whole stays open, one still uploading is closed).
 */
function readBody<T>(request: ApiRequest, limit: number, decode: (body: Uint8Array) => T): Promise<T> {
  const readable = request as unknown as Readable;
  return new Promise((resolve, reject) => {
    let first: Buffer | undefined;
    let chunks: Buffer[] | undefined;
    let size = 0;
    const onData = (chunk: Buffer | string): void => {
      const bytes = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
      size += bytes.byteLength;
      if (size > limit) {
        done();
        // After this turn: a 'data' event comes while the HTTP/1.1 parser is still at the request,
        // which is not yet marked complete, and destroying it then would drop the connection
        // before the 413 goes out even when the whole body has arrived.
        setImmediate(() => readable.destroy());
        reject(
          new Refusal(413, "ETOO_LARGE", `the request body exceeds ${limit} bytes`, "PayloadTooLargeError"),
        );
        return;
      }
      // Most bodies come in one chunk: kept as is, no copy.
      if (first === undefined) first = bytes;
      else (chunks ??= [first]).push(bytes);
    };
    const onEnd = (): void => {
      done();
      try {
        resolve(decode(chunks === undefined ? (first ?? EMPTY) : Buffer.concat(chunks, size)));
      } catch (error) {
        reject(error);
      }
    };
    const onError = (error: Error): void => {
      done();
      reject(error);
    };
    // A request that ends without 'end' (the client reset the stream) emits 'close' only.
    const onClose = (): void => {
      done();
      reject(new ClosedError("the HTTP client went away before its request body ended"));
    };
    const done = (): void => {
      readable.off("data", onData);
      readable.off("end", onEnd);
      readable.off("error", onError);
      readable.off("close", onClose);
    };
    readable.on("data", onData);
    readable.on("end", onEnd);
    readable.on("error", onError);
    readable.on("close", onClose);
  });
}

const EMPTY = new Uint8Array(0);

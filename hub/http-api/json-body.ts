import { DecodeError } from "../../codecs/errors.js";
import { jsonCodec } from "../../codecs/index.js";
import type { RefHooks } from "../../codecs/reference.js";
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
 * (FORMATS.md's JSON form: `{"$bytes": ...}` for binary); an empty body is `null`.
 */
export async function readJsonBody(request: ApiRequest, limit: number): Promise<unknown> {
  const body = await readBody(request, limit);
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

async function readBody(request: ApiRequest, limit: number): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const bytes = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    size += bytes.byteLength;
    if (size > limit)
      throw new Refusal(413, "ETOO_LARGE", `the request body exceeds ${limit} bytes`, "PayloadTooLargeError");
    chunks.push(bytes);
  }
  return Buffer.concat(chunks, size);
}

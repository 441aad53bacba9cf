// Structured hostile arguments for hub operations: every field a request may have, filled with
// values of the wrong type, range or unit — bigints (what a CBOR 64-bit integer decodes to),
// NaN and infinities, negative and huge durations, names that are objects, labels that are
// lists, keys such as __proto__ and then — beside real channels and streams where the
// operation wants one. The crash in issue 11 (a bigint timeout) is one draw of this.
import fc from "fast-check";
import { ByteStream, Channel } from "../../index.js";

/** Stands for a fresh channel end, put in place just before sending (see {@link materialize}). */
export const CHANNEL = "\u0000fuzz:channel";
/** Stands for a fresh byte stream end. */
export const STREAM = "\u0000fuzz:stream";

export const hostileScalar: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(
    null,
    undefined,
    true,
    false,
    0,
    -0,
    -1,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
    2 ** 31 - 1,
    2 ** 31,
    2 ** 32,
    2 ** 53,
    3e9,
    1e308,
    5e-324,
    0.5,
    "",
    " ",
    "__proto__",
    "constructor",
    "hub",
    "hub.info",
    "fuzz.echo",
    "nobody",
    "a".repeat(5000),
    "\u0000",
    "\ud800",
    "a b",
    "*",
    "..",
    5000n,
    -1n,
    0n,
    2n ** 63n,
    2n ** 64n + 1n,
    -(2n ** 70n),
    CHANNEL,
    STREAM,
  ),
  fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }),
  fc.double(),
  fc.integer(),
  fc.string({ maxLength: 24 }),
  fc.string({ unit: "binary", maxLength: 12 }),
  fc.uint8Array({ maxLength: 32 }),
);

const hostileKey = fc.oneof(
  fc.constantFrom("__proto__", "constructor", "toString", "then", "$channel", "$stream", "$fd", "$", "a", ""),
  fc.string({ maxLength: 8 }),
);

export const hostileValue: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    hostileScalar,
    fc.array(tie("value"), { maxLength: 4 }),
    fc.dictionary(hostileKey, tie("value"), { maxKeys: 4 }),
  ),
})).value;

const either = (specific: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> => fc.oneof(specific, hostileValue);
const name = either(
  fc.constantFrom("fuzz.echo", "fuzz.none", "hub.info", "hub", "", "bad name!", "a.".repeat(200)),
);
const labels = either(fc.dictionary(hostileKey, hostileScalar, { maxKeys: 3 }));
const duration = either(
  fc.oneof(fc.constantFrom(0, 1, 20, 3e9, 2 ** 31, -5, Number.NaN, 20n, 2n ** 64n, true, "20"), fc.integer()),
);
const options = either(
  fc.record(
    {
      timeout: duration,
      waitForService: duration,
      labels,
      instance: hostileValue,
      signal: hostileValue,
      cancelWith: hostileValue,
    },
    { requiredKeys: [] },
  ),
);
const filter = either(
  fc.record({ name, prefix: either(fc.constant("fuzz.")), labels }, { requiredKeys: [] }),
);

/** A request for the root channel: mostly well-shaped operations with hostile fields. */
export const hostileRequest: fc.Arbitrary<unknown> = fc.oneof(
  fc.record({ op: fc.constant("call"), name, data: hostileValue, options }, { requiredKeys: ["op"] }),
  fc.record(
    { op: fc.constant("register"), name, labels, handler: either(fc.constant(CHANNEL)) },
    { requiredKeys: ["op"] },
  ),
  fc.record({ op: fc.constant("unregister"), id: hostileValue }, { requiredKeys: ["op"] }),
  fc.record({ op: fc.constant("lookup"), name, labels }, { requiredKeys: ["op"] }),
  fc.record({ op: fc.constant("list"), filter }, { requiredKeys: ["op"] }),
  fc.record(
    { op: fc.constant("watch"), filter, existing: hostileValue, events: either(fc.constant(CHANNEL)) },
    { requiredKeys: ["op"] },
  ),
  fc.record({ op: hostileScalar, name, data: hostileValue }, { requiredKeys: [] }),
  hostileValue,
);

/**
 * `value` with every {@link CHANNEL} and {@link STREAM} replaced by a fresh end (the other end
 * goes to `ours`, for the caller to close), copying objects with their own `__proto__` keys.
 */
export function materialize(value: unknown, ours: { close(): void }[]): unknown {
  if (value === CHANNEL) {
    const [mine, theirs] = Channel.pair();
    ours.push(mine);
    return theirs;
  }
  if (value === STREAM) {
    const [mine, theirs] = ByteStream.pair();
    ours.push({ close: () => mine.reset() });
    return theirs;
  }
  if (Array.isArray(value)) return value.map((item) => materialize(item, ours));
  if (value !== null && typeof value === "object" && !(value instanceof Uint8Array)) {
    const copy: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      Object.defineProperty(copy, key, {
        value: materialize(item, ours),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return copy;
  }
  return value;
}

// Protocol Buffers through protobufjs, with a user-supplied schema. Every message is one
// message type of that schema; attachments are fields of type `beamhub.Ref` (REF_PROTO below,
// shipped as ref.proto), whose wire form is that of any proto3 message:
// Ref("channel", 42) is 08 01 10 2a (kind = KIND_CHANNEL = 1, id = 42). The enum numbers are
// the kind codes plus one: proto3 enums reserve 0 for "unspecified".
import protobuf from "protobufjs";
import type { Field, MapField, Root, Type } from "protobufjs";
import { Buffer } from "node:buffer";
import { CodecError, decodeFailure, EncodeError, encodeFailure } from "./errors.js";
import { isPlainObject } from "./own.js";
import { fromWireRef, Referable, refKindOfCode, REF_KIND_CODES, toWireRef } from "./reference.js";
import type { Codec, RefHooks } from "./reference.js";

/** The `beamhub.Ref` message type, as .proto source (the same text as codecs/ref.proto). */
export const REF_PROTO = `syntax = "proto3";

package beamhub;

// A reference to an attachment (a reply channel, a byte stream or a file descriptor) inside a
// beamhub message. The id is chosen by the sending session and is only meaningful within it.
message Ref {
  enum Kind {
    KIND_UNSPECIFIED = 0;
    KIND_CHANNEL = 1;
    KIND_STREAM = 2;
    KIND_FD = 3;
  }
  Kind kind = 1;
  uint32 id = 2;
}
`;

const REF_TYPE_NAME = ".beamhub.Ref";

/** Adds `beamhub.Ref` to `root` (if it is not there yet) and returns `root`. */
export function addRefType(root: Root): Root {
  if (root.lookup("beamhub.Ref") === null) protobuf.parse(REF_PROTO, root, { keepCase: true });
  return root;
}

/** Options of {@link protobufCodec}: a schema (a protobufjs Root or .proto source) and a message type. */
export interface ProtobufCodecOptions {
  /**
   * A schema loaded with protobufjs. If its messages have `beamhub.Ref` fields, the type must
   * be in it: see {@link addRefType}.
   */
  root?: Root;
  /**
   * .proto source, parsed into a new Root that already holds `beamhub.Ref` (field names are
   * kept as written, not camel-cased). Ignored if `root` is given.
   */
  proto?: string;
  /** Fully qualified name of the message type of every message, e.g. "myapp.Call". */
  type: string;
}

type Conversion = "ref" | "message" | "int64" | "uint64" | "bytes" | "plain";

interface FieldPlan {
  name: string;
  conversion: Conversion;
  repeated: boolean;
  map: boolean;
  type: Type | undefined;
}

interface TypePlan {
  fields: FieldPlan[];
  byName: Map<string, FieldPlan>;
}

const SIGNED_64 = new Set(["int64", "sint64", "sfixed64"]);
const UNSIGNED_64 = new Set(["uint64", "fixed64"]);
const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;
const UINT64_MAX = (1n << 64n) - 1n;

/** A protobufjs Long, or anything with its two 32-bit halves. */
interface LongBits {
  low: number;
  high: number;
}

function conversionOf(field: Field | MapField): Conversion {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Type) return resolved.fullName === REF_TYPE_NAME ? "ref" : "message";
  if (SIGNED_64.has(field.type)) return "int64";
  if (UNSIGNED_64.has(field.type)) return "uint64";
  if (field.type === "bytes") return "bytes";
  return "plain";
}

/**
 * A codec (`application/x-protobuf`) for one message type of a protobuf schema. Values are
 * plain objects keyed by field name. `beamhub.Ref` fields hold {@link Ref}s or attachments;
 * 64-bit integer fields take bigints (or safe integers) and decode as bigints; bytes fields
 * hold Uint8Arrays; enums are numbers. Empty lists and maps come back absent (proto3 cannot
 * tell them apart); a field absent on the wire is absent in the decoded object, whereas other
 * proto3 encoders leave out fields at their default value (0, "", false). Unknown field names
 * are refused when encoding.
 *
 * @throws {CodecError} `ESCHEMA` if the schema does not resolve or lacks the type.
 */
export function protobufCodec(options: ProtobufCodecOptions): Codec {
  let root: Root;
  let messageType: Type;
  try {
    if (options.root !== undefined) root = options.root;
    else {
      root = addRefType(new protobuf.Root());
      protobuf.parse(options.proto ?? "", root, { keepCase: true });
    }
    root.resolveAll();
    messageType = root.lookupType(options.type);
  } catch (error) {
    throw new CodecError("ESCHEMA", `protobuf: unusable schema: ${(error as Error).message}`, {
      cause: error,
    });
  }

  const plans = new Map<Type, TypePlan>();
  function planOf(type: Type): TypePlan {
    let plan = plans.get(type);
    if (plan === undefined) {
      const fields = type.fieldsArray.map((field) => ({
        name: field.name,
        conversion: conversionOf(field),
        repeated: field.repeated,
        map: field.map,
        type: field.resolvedType instanceof protobuf.Type ? field.resolvedType : undefined,
      }));
      plan = { fields, byName: new Map(fields.map((field) => [field.name, field])) };
      plans.set(type, plan);
    }
    return plan;
  }

  function toProto(
    type: Type,
    value: unknown,
    path: string,
    hooks: RefHooks | undefined,
  ): Record<string, unknown> {
    if (typeof value !== "object" || value === null || !isPlainObject(value)) {
      throw new EncodeError(`protobuf: ${path} must be a plain object (message ${type.fullName.slice(1)})`);
    }
    const plan = planOf(type);
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value)) {
      const field = plan.byName.get(key);
      if (field === undefined)
        throw new EncodeError(
          `protobuf: ${type.fullName.slice(1)} has no field ${JSON.stringify(key)} (at ${path})`,
        );
      const item = value[key];
      if (item === undefined || item === null) continue;
      const at = `${path}.${key}`;
      if (field.map) {
        if (typeof item !== "object" || !isPlainObject(item))
          throw new EncodeError(`protobuf: ${at} must be an object (a map)`);
        const converted: Record<string, unknown> = {};
        for (const entry of Object.keys(item))
          converted[entry] = toField(field, item[entry], `${at}.${entry}`, hooks);
        out[key] = converted;
      } else if (field.repeated) {
        if (!Array.isArray(item))
          throw new EncodeError(`protobuf: ${at} must be an array (a repeated field)`);
        out[key] = item.map((element: unknown, i) => toField(field, element, `${at}[${i}]`, hooks));
      } else {
        out[key] = toField(field, item, at, hooks);
      }
    }
    return out;
  }

  function toField(field: FieldPlan, value: unknown, path: string, hooks: RefHooks | undefined): unknown {
    switch (field.conversion) {
      case "ref": {
        if (!(value instanceof Referable))
          throw new EncodeError(`protobuf: ${path} must be a Ref or an attachment`);
        const ref = toWireRef(value, hooks);
        return { kind: REF_KIND_CODES[ref.kind] + 1, id: ref.id };
      }
      case "message":
        return toProto(field.type as Type, value, path, hooks);
      case "int64":
      case "uint64":
        return typeof value === "bigint" ? toLongBits(value, field.conversion === "uint64", path) : value;
      default:
        return value;
    }
  }

  function fromProto(
    type: Type,
    message: Record<string, unknown>,
    hooks: RefHooks | undefined,
  ): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const field of planOf(type).fields) {
      if (!Object.hasOwn(message, field.name)) continue;
      const item = message[field.name];
      if (field.map) {
        const entries = Object.keys(item as object);
        if (entries.length === 0) continue;
        const converted: Record<string, unknown> = {};
        for (const entry of entries)
          converted[entry] = fromField(field, (item as Record<string, unknown>)[entry], hooks);
        out[field.name] = converted;
      } else if (field.repeated) {
        const list = item as unknown[];
        if (list.length === 0) continue;
        out[field.name] = list.map((element) => fromField(field, element, hooks));
      } else {
        out[field.name] = fromField(field, item, hooks);
      }
    }
    return out;
  }

  function fromField(field: FieldPlan, value: unknown, hooks: RefHooks | undefined): unknown {
    switch (field.conversion) {
      case "ref": {
        const ref = value as { kind: number; id: unknown };
        return fromWireRef(refKindOfCode(ref.kind - 1), ref.id, hooks);
      }
      case "message":
        return fromProto(field.type as Type, value as Record<string, unknown>, hooks);
      case "int64":
      case "uint64":
        return fromLongBits(value, field.conversion === "uint64");
      case "bytes":
        // protobufjs hands out views of the input; copy so they do not alias a reused buffer.
        return Uint8Array.prototype.slice.call(value as Uint8Array);
      default:
        return value;
    }
  }

  return {
    name: "protobuf",
    contentType: "application/x-protobuf",
    encode(value: unknown, hooks?: RefHooks): Uint8Array {
      try {
        const object = toProto(messageType, value, "message", hooks);
        const problem = messageType.verify(object);
        if (problem !== null) throw new EncodeError(`protobuf: ${problem}`);
        return messageType.encode(object).finish();
      } catch (error) {
        throw encodeFailure("protobuf", error);
      }
    },
    decode(bytes: Uint8Array, hooks?: RefHooks): unknown {
      // protobufjs's Buffer reader silently shortens truncated strings; its plain Uint8Array
      // reader checks every length, so always give it a plain view.
      const input = Buffer.isBuffer(bytes)
        ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
        : bytes;
      try {
        const message = messageType.decode(input) as unknown as Record<string, unknown>;
        return fromProto(messageType, message, hooks);
      } catch (error) {
        throw decodeFailure("protobuf", error);
      }
    },
  };
}

function toLongBits(value: bigint, unsigned: boolean, path: string): LongBits {
  if (unsigned ? value < 0n || value > UINT64_MAX : value < INT64_MIN || value > INT64_MAX) {
    throw new EncodeError(`protobuf: ${path} = ${value} does not fit in a ${unsigned ? "uint64" : "int64"}`);
  }
  const bits = BigInt.asUintN(64, value);
  return { low: Number(bits & 0xffffffffn) | 0, high: Number(bits >> 32n) | 0 };
}

function fromLongBits(value: unknown, unsigned: boolean): bigint {
  if (typeof value === "number") return BigInt(value);
  if (typeof value === "string") return BigInt(value);
  const { low, high } = value as LongBits;
  const bits = (BigInt(high >>> 0) << 32n) | BigInt(low >>> 0);
  return unsigned ? bits : BigInt.asIntN(64, bits);
}

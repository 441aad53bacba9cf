// Keeping copies of a kv message in sync. Every change to the original becomes a change
// record, itself a kv message, which can be sent over any byte stream (framed with
// encodeKvRecord) or appended to a kv log; applying the records in order to another copy
// reproduces the original. A log of change records is therefore also a way to persist a
// message: replaying it rebuilds the state.
//
// Change record keys (all values are text except `key`/`value` contents, which are bytes):
//   seq   → [decimal sequence number, 1 for the first change, +1 per change]
//   op    → ["set" | "add" | "delete" | "reset"]
//   key   → [the key]                       (set, add, delete)
//   value → [values...]                     (set: the new list; add: the values appended)
//   value → [kv encoding of the full state] (reset: a snapshot at seq)
import { utf8Bytes } from "./bytes.js";
import { KvDecodeError, KvError } from "./errors.js";
import { KvMessage } from "./message.js";
import type { KvValue } from "./types.js";

/** One change to a kv message. */
export type KvChange =
  | { op: "set"; key: KvValue; values: readonly KvValue[] }
  | { op: "add"; key: KvValue; values: readonly KvValue[] }
  | { op: "delete"; key: KvValue }
  | { op: "reset"; state: KvMessage };

/** A decoded change record. */
export interface KvChangeRecord {
  seq: number;
  change: KvChange;
}

/** Encodes a change with its sequence number as a change record (a kv message). */
export function encodeKvChange(change: KvChange, seq: number): Uint8Array {
  if (!Number.isSafeInteger(seq) || seq < 0)
    throw new KvError("EKV_CHANGE", `kv: invalid sequence number ${seq}`);
  const record = new KvMessage().set("seq", String(seq)).set("op", change.op);
  switch (change.op) {
    case "set":
    case "add":
      record.set("key", change.key).set("value", change.values);
      break;
    case "delete":
      record.set("key", change.key);
      break;
    case "reset":
      record.set("value", change.state.encode());
      break;
  }
  return record.encode();
}

const SEQ = /^(0|[1-9][0-9]{0,15})$/;

/**
 * Decodes a change record (bytes or an already decoded message).
 *
 * @throws {KvDecodeError} `EKV_CHANGE` (offset 0) if it is a kv message but not a valid change
 *   record; other codes if it is not a kv message at all.
 */
export function decodeKvChange(record: Uint8Array | KvMessage): KvChangeRecord {
  const message = record instanceof KvMessage ? record : KvMessage.decode(record);
  const seqText = only(message, "seq");
  const seq = Number(seqText);
  if (!SEQ.test(seqText) || !Number.isSafeInteger(seq))
    throw invalid(`bad sequence number ${JSON.stringify(seqText)}`);
  const op = only(message, "op");
  switch (op) {
    case "set":
    case "add": {
      const values = message.get("value");
      if (values === undefined) throw invalid(`'${op}' record without 'value'`);
      return { seq, change: { op, key: onlyRaw(message, "key"), values } };
    }
    case "delete":
      return { seq, change: { op, key: onlyRaw(message, "key") } };
    case "reset": {
      const state = KvMessage.decode(toBytes(onlyRaw(message, "value")));
      return { seq, change: { op, state } };
    }
    default:
      throw invalid(`unknown op ${JSON.stringify(op)}`);
  }
}

/** Applies one change to `target` in place. */
export function applyKvChange(target: KvMessage, change: KvChange): void {
  switch (change.op) {
    case "set":
      target.set(change.key, change.values);
      break;
    case "add":
      target.add(change.key, ...change.values);
      break;
    case "delete":
      target.delete(change.key);
      break;
    case "reset":
      target.clear();
      for (const [key, values] of change.state.entries()) target.set(key, values);
      break;
  }
}

type ChangeListener = (record: Uint8Array, change: KvChange, seq: number) => void;

/**
 * The original of a synced kv message. Change it only through this object: each change is
 * applied to {@link state}, numbered, encoded as a change record and handed to every listener
 * (to send to replicas, or to append to a log).
 */
export class KvSyncSource {
  readonly #state: KvMessage;
  #seq: number;
  readonly #listeners = new Set<ChangeListener>();

  constructor(initial?: KvMessage, seq = 0) {
    this.#state = initial?.clone() ?? new KvMessage();
    this.#seq = seq;
  }

  /** The current state. Treat it as read-only: changes made to it directly are not synced. */
  get state(): KvMessage {
    return this.#state;
  }

  /** Sequence number of the last change (0 before any). */
  get seq(): number {
    return this.#seq;
  }

  /** Calls `listener` for every later change; returns a function that unsubscribes it. */
  onChange(listener: ChangeListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Replaces the values of `key`; returns the change record. */
  set(key: KvValue, values: KvValue | readonly KvValue[]): Uint8Array {
    const list: readonly KvValue[] =
      typeof values === "string" || values instanceof Uint8Array ? [values] : values;
    return this.#commit({ op: "set", key, values: list });
  }

  /** Appends values to `key`; returns the change record. */
  add(key: KvValue, ...values: KvValue[]): Uint8Array {
    return this.#commit({ op: "add", key, values });
  }

  /** Removes `key`; returns the change record. */
  delete(key: KvValue): Uint8Array {
    return this.#commit({ op: "delete", key });
  }

  /** A reset record carrying the whole current state, to start a new replica from. */
  snapshot(): Uint8Array {
    return encodeKvChange({ op: "reset", state: this.#state }, this.#seq);
  }

  #commit(change: KvChange): Uint8Array {
    // Encode first: a change that cannot be encoded must not alter the state.
    const record = encodeKvChange(change, this.#seq + 1);
    applyKvChange(this.#state, change);
    this.#seq++;
    for (const listener of this.#listeners) listener(record, change, this.#seq);
    return record;
  }
}

/**
 * A copy kept in sync by applying change records in order. A record older than the last
 * applied one is ignored (so re-delivery is harmless); a gap in the numbering throws
 * {@link KvError} `EKV_SEQ_GAP`, after which the replica needs a snapshot (a reset record).
 */
export class KvReplica {
  readonly #state = new KvMessage();
  #seq = 0;

  /** The replicated state (read-only by convention). */
  get state(): KvMessage {
    return this.#state;
  }

  /** Sequence number of the last applied change. */
  get seq(): number {
    return this.#seq;
  }

  /** Applies a change record; returns false if it was already applied. */
  apply(record: Uint8Array | KvMessage | KvChangeRecord): boolean {
    const { seq, change } =
      record instanceof Uint8Array || record instanceof KvMessage ? decodeKvChange(record) : record;
    if (change.op === "reset") {
      if (seq < this.#seq) return false;
    } else {
      if (seq <= this.#seq) return false;
      if (seq !== this.#seq + 1) {
        throw new KvError(
          "EKV_SEQ_GAP",
          `kv: change ${seq} cannot follow change ${this.#seq}; a snapshot is needed`,
        );
      }
    }
    applyKvChange(this.#state, change);
    this.#seq = seq;
    return true;
  }
}

function only(message: KvMessage, key: string): string {
  const value = onlyRaw(message, key);
  if (typeof value === "string") return value;
  throw invalid(`'${key}' is not text`);
}

function onlyRaw(message: KvMessage, key: string): KvValue {
  const values = message.get(key);
  if (values?.length !== 1) throw invalid(`expected exactly one '${key}' value`);
  return values[0] as KvValue;
}

function toBytes(value: KvValue): Uint8Array {
  // The snapshot decoded as text if it was valid UTF-8; encoding it again gives the same bytes.
  return typeof value === "string" ? utf8Bytes(value) : value;
}

function invalid(reason: string): KvDecodeError {
  return new KvDecodeError("EKV_CHANGE", `kv: not a valid change record: ${reason}`, 0);
}

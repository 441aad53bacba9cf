/**
 * kv: Beam's key → values message format (netstrings), with canonical encoding, a message API,
 * append-only log files and change-record sync.
 *
 * @packageDocumentation
 */
export type { KvDecodeOptions, KvObject, KvRecord, KvValue } from "./types.js";
export { KvDecodeError, KvError } from "./errors.js";
export { DEFAULT_MAX_LENGTH, encodeNetstring } from "./netstring.js";
export { compareBytes, compareText } from "./order.js";
export { encodeKv } from "./encode.js";
export { decodeKv } from "./decode.js";
export { KvMessage } from "./message.js";
export { encodeKvRecord, KvRecordDecoder } from "./record-stream.js";
export type { KvRecordDecoderOptions, KvRecordEntry } from "./record-stream.js";
export { KvLogReader, KvLogWriter, readKvLog } from "./log.js";
export { KvLogLockedError, lockFile } from "./file-lock.js";
export type { KvLogReadOptions, KvLogWriterOptions, KvTornTail } from "./log.js";
export { applyKvChange, decodeKvChange, encodeKvChange, KvReplica, KvSyncSource } from "./sync.js";
export type { KvChange, KvChangeRecord } from "./sync.js";

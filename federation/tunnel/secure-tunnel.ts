import type { ByteStream } from "../../model/byte-stream.js";
import type { StreamResetError } from "../../model/errors.js";
import type { TransportHandlers } from "../../wire/byte-transport.js";
import type { AbortableTransport } from "../../wire/keep-alive.js";
import type { TrustStore, VerifiedHub } from "../pki/trust-store.js";
import { TunnelAuthError, TunnelHandshakeError } from "./errors.js";
import { checkHello, makeHello, tunnelCiphers, type HubIdentity } from "./handshake.js";
import type { RecordCipher } from "./record-cipher.js";
import { RecordReader, frameRecord } from "./record-framing.js";

/** Options of `openTunnel`. */
export interface TunnelOptions {
  /** The initiator speaks first; the responder answers. */
  role: "initiator" | "responder";
  self: HubIdentity;
  trust: TrustStore;
  /** The hub expected at the other end (the initiator always knows it). */
  peer?: string;
  /** The handshake must be over within this many ms (default 10 000). */
  timeoutMs?: number;
  /** How far apart the two hubs' clocks may be, in ms (default 300 000). */
  clockWindow?: number;
}

/** An open tunnel: a byte transport for a beamhub session, and the hub at the other end. */
export interface Tunnel {
  readonly transport: AbortableTransport;
  readonly peer: VerifiedHub;
}

/** Plaintext per record: a 64 KiB record keeps the AEAD's memory use small and latency low. */
const RECORD_PLAINTEXT = 65_536;

/**
 * Turns a byte stream relayed by others (the broker) into an end-to-end secure transport
 * between two hubs: each side proves its certificate with a signed ephemeral X25519 key, and
 * every record after that is ChaCha20-Poly1305 under keys only the two hubs hold. A relay that
 * alters, drops, repeats or reorders anything makes the receiving side fail with
 * `TunnelAuthError` and reset the stream: corruption is never delivered.
 */
export async function openTunnel(stream: ByteStream, options: TunnelOptions): Promise<Tunnel> {
  const { role, self, trust, timeoutMs = 10_000, clockWindow = 300_000 } = options;
  if (role === "initiator" && options.peer === undefined)
    throw new TunnelHandshakeError("an initiator must name the hub it opens a tunnel to");
  const port = stream.openPort();
  if (port === undefined) throw new TunnelHandshakeError("the byte stream is already being read");
  const reader = new RecordReader();
  let onRecord: (record: Buffer) => void = () => undefined;
  let onEnd: (error?: Error) => void = () => undefined;
  let drain: () => void = () => undefined;
  const fail = (error: Error): void => {
    onEnd(error);
    stream.reset(error);
  };

  const startPort = (): void =>
    port.start({
      data(chunk) {
        let records: Buffer[];
        try {
          records = reader.push(chunk);
        } catch (error) {
          fail(
            new TunnelAuthError(`the tunnel's framing broke: ${(error as Error).message}`, { cause: error }),
          );
          return;
        }
        for (const record of records) onRecord(record);
      },
      end: () => onEnd(),
      drain: () => drain(),
      reset: (error: StreamResetError) => onEnd(error),
    });

  const hellos = new Promise<{ peer: VerifiedHub; send: RecordCipher; receive: RecordCipher }>(
    (resolve, reject) => {
      const timer = setTimeout(() => {
        const error = new TunnelHandshakeError(`no tunnel handshake within ${timeoutMs} ms`);
        reject(error);
        stream.reset(error);
      }, timeoutMs);
      timer.unref();
      const settle = (
        outcome: () => { peer: VerifiedHub; send: RecordCipher; receive: RecordCipher },
      ): void => {
        clearTimeout(timer);
        try {
          resolve(outcome());
        } catch (error) {
          reject(error as Error);
          stream.reset(error);
        }
      };
      onEnd = (error) => {
        clearTimeout(timer);
        reject(new TunnelHandshakeError("the stream closed during the tunnel handshake", { cause: error }));
      };
      const check = (theirs: Buffer, previous?: Buffer) =>
        checkHello(theirs, { self: self.id, expected: options.peer, trust, previous, window: clockWindow });
      if (role === "initiator") {
        const mine = makeHello(self, options.peer!);
        onRecord = (theirs) =>
          settle(() => {
            const { peer, epk } = check(theirs, mine.bytes);
            return { peer, ...tunnelCiphers("initiator", mine.ephemeral, epk, mine.bytes, theirs) };
          });
        startPort();
        port.write(frameRecord(mine.bytes));
      } else {
        onRecord = (theirs) =>
          settle(() => {
            const { peer, epk } = check(theirs);
            const mine = makeHello(self, peer.id, theirs);
            port.write(frameRecord(mine.bytes));
            return { peer, ...tunnelCiphers("responder", mine.ephemeral, epk, theirs, mine.bytes) };
          });
        startPort();
      }
    },
  );
  const { peer, send, receive } = await hellos;

  let handlers: TransportHandlers | undefined;
  const early: Buffer[] = [];
  let ended: { error?: Error } | undefined;
  onRecord = (record) => {
    let plaintext: Buffer;
    try {
      plaintext = receive.open(record);
    } catch (error) {
      fail(error as Error);
      return;
    }
    if (handlers === undefined) early.push(plaintext);
    else handlers.data(plaintext, []);
  };
  let closed = false;
  onEnd = (error) => {
    if (closed) return;
    closed = true;
    if (handlers === undefined) ended = { error };
    else handlers.closed(error);
  };
  const transport: AbortableTransport = {
    supportsFds: false,
    withoutFds: "convert",
    write(chunks) {
      // Records are cut across chunks: a session writes a frame's header and its 64 KiB payload
      // as two chunks, which sealed one by one made every other record a few bytes long (twice
      // the AEAD set-ups, records and relayed writes).
      let flowing = true;
      let pieces: Uint8Array[] = [];
      let filled = 0;
      const flush = (): void => {
        flowing = port.write(send.sealFramed(pieces)) && flowing;
        pieces = [];
        filled = 0;
      };
      for (const chunk of chunks) {
        for (let offset = 0; offset < chunk.byteLength;) {
          const take = Math.min(RECORD_PLAINTEXT - filled, chunk.byteLength - offset);
          pieces.push(take === chunk.byteLength ? chunk : chunk.subarray(offset, offset + take));
          filled += take;
          offset += take;
          if (filled === RECORD_PLAINTEXT) flush();
        }
      }
      if (filled > 0) flush();
      return flowing;
    },
    start(given) {
      handlers = given;
      drain = () => given.drain?.();
      for (const plaintext of early.splice(0)) given.data(plaintext, []);
      if (ended !== undefined) given.closed(ended.error);
    },
    close: () => port.end(),
    abort: () => stream.reset(),
    pause: () => port.pause(),
    resume: () => port.resume(),
  };
  return { transport, peer };
}

import { close as closeFd, fstatSync, read as readFd } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { Server, Socket } from "node:net";
import { ByteStream } from "../model/byte-stream.js";
import { InvalidMessageError } from "../model/errors.js";
import { FileDescriptor } from "../model/file-descriptor.js";
import { spliceSocketStream } from "./socket-stream.js";

/** Bytes read from a file per chunk when a file descriptor travels as its content. */
const FILE_CHUNK = 64 * 1024;

/** Thrown from the encode hooks: the message carries a descriptor to replace by a stream. */
export const CONVERT_DESCRIPTORS: unique symbol = Symbol("beamhub.convertDescriptors");

const WHY =
  "only the Unix transport carries fds; network transports carry a connected socket as a byte " +
  "stream and a regular file as a stream of its content";

/** A descriptor replaced by a byte stream: `start` takes it and pumps, `undo` if never sent. */
export interface ConvertedDescriptor {
  start: () => void;
  undo: () => void;
}

/** Throws `InvalidMessageError` unless `descriptor` can travel as a byte stream. */
export function checkConvertible(descriptor: FileDescriptor): void {
  const value = descriptor.peek();
  if (value instanceof Socket) {
    if (value.destroyed) throw new InvalidMessageError("cannot send a destroyed socket");
    return;
  }
  if (value instanceof Server) {
    throw new InvalidMessageError(
      `a file descriptor of kind "${descriptor.kind}" (a listening socket) cannot travel on this connection: ${WHY}`,
    );
  }
  if (!isRegularFile(typeof value === "number" ? value : value.fd)) {
    throw new InvalidMessageError(
      `a file descriptor of kind "${descriptor.kind}" that is not a regular file cannot travel on this connection: ${WHY}`,
    );
  }
}

/**
 * A copy of `data` in which every descriptor (in plain objects, arrays and maps) is replaced by
 * a byte stream (PROTOCOL.md, "Descriptors on network transports"): a connected socket becomes
 * a byte stream to the far side (both directions, backpressure, half-close); a regular file (a
 * `FileHandle` or an fd number) becomes a byte stream of its content from its current position,
 * then END. Each replacement is pushed on `conversions`; nothing is taken until its `start`.
 */
export function replaceDescriptors(data: unknown, conversions: ConvertedDescriptor[]): unknown {
  if (data instanceof FileDescriptor) {
    checkConvertible(data);
    const [near, far] = ByteStream.pair();
    const value = data.peek();
    conversions.push({
      start: () =>
        value instanceof Socket
          ? void spliceSocketStream(data.take() as Socket, near)
          : pumpFile(data.take() as number | FileHandle, near),
      undo: () => near.reset(),
    });
    return far;
  }
  if (Array.isArray(data)) return data.map((item) => replaceDescriptors(item, conversions));
  if (data instanceof Map) {
    return new Map([...data].map(([key, item]) => [key, replaceDescriptors(item, conversions)]));
  }
  if (data !== null && typeof data === "object") {
    const prototype = Object.getPrototypeOf(data) as unknown;
    if (prototype !== Object.prototype && prototype !== null) return data;
    const copy: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(data)) copy[key] = replaceDescriptors(item, conversions);
    return copy;
  }
  return data;
}

function isRegularFile(fd: number): boolean {
  try {
    return fstatSync(fd).isFile();
  } catch {
    return false;
  }
}

/** File → byte stream: its content, then END; whatever the far side writes is discarded. */
function pumpFile(file: number | FileHandle, near: ByteStream): void {
  const closeFile = (): void => {
    if (typeof file === "number") closeFd(file, () => undefined);
    else file.close().catch(() => undefined);
  };
  const read = (buffer: Uint8Array): Promise<number> =>
    typeof file === "number"
      ? new Promise((resolve, reject) =>
          readFd(file, buffer, 0, buffer.byteLength, null, (error, bytesRead) =>
            error ? reject(error) : resolve(bytesRead),
          ),
        )
      : file.read(buffer, 0, buffer.byteLength, null).then((result) => result.bytesRead);
  void (async () => {
    const writer = near.writable.getWriter();
    try {
      for (;;) {
        const chunk = new Uint8Array(FILE_CHUNK);
        const bytesRead = await read(chunk);
        if (bytesRead === 0) break;
        await writer.write(chunk.subarray(0, bytesRead));
      }
      await writer.close();
    } finally {
      closeFile();
    }
  })().catch((error: unknown) => near.reset(error));
  // The read side of a file stream carries nothing: drain what the far side writes until it ends.
  void (async () => {
    const reader = near.readable.getReader();
    for (;;) if ((await reader.read()).done) break;
  })().catch(() => undefined);
}

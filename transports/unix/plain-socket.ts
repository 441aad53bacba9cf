/**
 * The Unix transport without the fd addon: an ordinary `net` socket, which carries every message,
 * channel and byte stream but no file descriptor (Node's own reads drop SCM_RIGHTS). Used when
 * the addon did not build or `BEAMHUB_NO_ADDON=1`; the session's HELLO then says `fds: false`
 * and sending a descriptor fails with `FdUnavailableError`.
 * @module
 */
import { chmodSync, linkSync, lstatSync, mkdtempSync, rmSync, unlinkSync } from "node:fs";
import { createConnection, createServer, type Socket } from "node:net";
import { basename, dirname, join } from "node:path";
import type { FileDescriptor } from "../../model/file-descriptor.js";
import type { DescriptorCodec } from "../../wire/connection.js";
import type { AbortableTransport } from "../../wire/keep-alive.js";
import { FdSocketError, FdUnavailableError } from "../../fd/index.js";
import { closeLingering } from "./unix-transport.js";

/** Backlog of a plain listener, as the addon's. */
const BACKLOG = 511;
/** Pause between connect attempts while the listener's backlog is full. */
const BACKLOG_RETRY_MS = 5;

/**
 * Descriptors on a Unix socket without the addon: none travel. Sending one fails with
 * `FdUnavailableError` (with why the addon is missing) instead of turning it into a byte stream
 * as network transports do: on a Unix socket a descriptor is meant to arrive as one.
 */
export function unavailableDescriptors(why: FdUnavailableError): DescriptorCodec {
  const refuse = (): never => {
    throw new FdUnavailableError(why.reason, { cause: why });
  };
  return {
    toFd: (_descriptor: FileDescriptor) => refuse(),
    fromFd: () => refuse(),
    discard: () => undefined,
  };
}

/** The session protocol's view of a plain Unix socket: bytes only. */
export function plainTransportFor(socket: Socket): AbortableTransport {
  // Each 'drain' means the peer read what had backed up (see ByteTransport.writesUnblocked).
  let drains = 0;
  socket.on("drain", () => drains++);
  return {
    supportsFds: false,
    // On a Unix socket a descriptor is meant to arrive as one: refuse instead of converting it
    // to a byte stream as network transports do.
    withoutFds: "refuse",
    write: (chunks) => {
      if (socket.destroyed) return false;
      socket.cork();
      let room = true;
      for (const chunk of chunks) room = socket.write(chunk);
      socket.uncork();
      return room;
    },
    start: (handlers) => {
      socket.on("data", (data: Buffer) => handlers.data(data, []));
      socket.on("error", (error) => handlers.closed(error));
      socket.on("close", () => handlers.closed());
      socket.on("drain", () => handlers.drain?.());
    },
    close: () => closeLingering(socket),
    abort: () => socket.destroy(),
    get bufferedBytes() {
      return socket.writableLength;
    },
    get writesUnblocked() {
      return drains;
    },
    pause: () => socket.pause(),
    resume: () => socket.resume(),
  };
}

/** A listening plain Unix socket. */
export interface PlainUnixServer {
  readonly path: string;
  close(): Promise<void>;
}

/**
 * Listens on `path` with a plain `net.Server`. The socket file has `mode` before anyone can
 * reach it: it is bound in a private directory next to `path`, given its mode, and then linked
 * into place (a link fails if the path exists, so a live socket is never replaced). A stale
 * socket file nobody listens on is replaced, as the addon's listener does; a path that is not a
 * socket never is. `close()` removes the socket file if it is still this one.
 */
export async function listenPlainUnix(
  path: string,
  mode: number,
  onConnection: (socket: Socket) => void,
): Promise<PlainUnixServer> {
  const server = createServer({ allowHalfOpen: true }, onConnection);
  const staging = mkdtempSync(join(dirname(path), `.${basename(path).slice(0, 8)}-`));
  const staged = join(staging, "s");
  let inode: { dev: number; ino: number };
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ path: staged, backlog: BACKLOG }, () => {
        server.off("error", reject);
        resolve();
      });
    });
    chmodSync(staged, mode);
    await linkInPlace(staged, path);
    const st = lstatSync(path);
    inode = { dev: st.dev, ino: st.ino };
  } catch (error) {
    server.close();
    throw error instanceof FdSocketError ? error : socketError("listen", error, path);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return {
    path,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      try {
        const st = lstatSync(path);
        if (st.dev === inode.dev && st.ino === inode.ino) unlinkSync(path);
      } catch {
        // already gone
      }
    },
  };
}

/** Links the bound socket `staged` at `path`, replacing a stale socket there. */
async function linkInPlace(staged: string, path: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      linkSync(staged, path);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST" || attempt >= 3) throw error;
    }
    await removeStaleSocket(path);
  }
}

async function removeStaleSocket(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return; // vanished meanwhile: just retry
  }
  const taken = (why: string): FdSocketError =>
    new FdSocketError("EADDRINUSE", `listen ${path}: ${why}`, {
      errno: "EADDRINUSE",
      syscall: "listen",
      path,
    });
  if (!isSocket) throw taken("the path exists and is not a socket");
  const answer = await new Promise<string | undefined>((resolve) => {
    const probe = createConnection({ path });
    probe.once("connect", () => {
      probe.destroy();
      resolve(undefined);
    });
    probe.once("error", (error: NodeJS.ErrnoException) => resolve(error.code));
  });
  if (answer === undefined || answer === "EAGAIN") throw taken("another server is listening there");
  if (answer === "ECONNREFUSED") unlinkSync(path);
  else if (answer !== "ENOENT") throw taken(`the socket there cannot be probed (${answer})`);
}

/**
 * Connects a plain socket to `path`, trying again while the listener's backlog is full (EAGAIN)
 * for at most `timeoutMs`.
 * @throws {FdSocketError} `ESOCKET` (`errno` ENOENT, ECONNREFUSED, ...) or `ETIMEDOUT`, as the
 *   addon's `FdSocket.connect`.
 */
export async function connectPlainUnix(path: string, timeoutMs: number): Promise<Socket> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await new Promise<Socket>((resolve, reject) => {
        const socket = createConnection({ path, allowHalfOpen: true });
        socket.once("connect", () => {
          socket.off("error", reject);
          resolve(socket);
        });
        socket.once("error", reject);
      });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EAGAIN") throw socketError("connect", error, path);
      if (Date.now() >= deadline) {
        throw new FdSocketError("ETIMEDOUT", `connect ${path} timed out: the server's backlog stayed full`, {
          errno: "EAGAIN",
          syscall: "connect",
          path,
        });
      }
      await new Promise((resolve) => setTimeout(resolve, BACKLOG_RETRY_MS));
    }
  }
}

function socketError(syscall: string, error: unknown, path: string): FdSocketError {
  const errno = (error as NodeJS.ErrnoException).code;
  // Worded as the addon's errors are, so a missing socket reads the same with or without it.
  const message =
    errno === undefined
      ? `${syscall} ${path} failed: ${(error as Error).message}`
      : `${syscall} ${path} failed: ${errno}`;
  return new FdSocketError("ESOCKET", message, { errno, syscall, path, cause: error });
}

import { close as closeFd } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { Server, Socket } from "node:net";
import { Attachable } from "../codecs/reference.js";
import { countClosed, countOpen } from "./attachments.js";
import { ClosedError } from "./errors.js";
import { Owners, type Ownable, type Scope } from "./scope.js";

/** What a descriptor can hold: the natural Node type of the open file or socket. */
export type DescriptorValue = number | Socket | Server | FileHandle;

/**
 * `"socket"`: a connected stream socket (`net.Socket`); `"server"`: a listening socket
 * (`net.Server`); `"file"`: a `FileHandle`; `"fd"`: a bare descriptor number (a pipe, a
 * character device, anything else).
 */
export type DescriptorKind = "socket" | "server" | "file" | "fd";

/**
 * An open file descriptor attached to a message. In one process the handle itself is passed as
 * is; over the Unix transport the descriptor travels for real (SCM_RIGHTS) and arrives as the
 * same kind of handle. Whoever receives it owns it: `take()` claims it for good. A descriptor
 * nobody took is closed for you: in a request, once its handler has answered; in an event or a
 * reply, when the channel or session that carried it closes.
 *
 * ```ts
 * await hub.call("worker.serve", { client: new FileDescriptor(socket) });
 * // in the worker: const socket = data.client.take() as net.Socket;
 * ```
 */
export class FileDescriptor extends Attachable implements Ownable {
  readonly refKind = "fd" as const;
  readonly kind: DescriptorKind;
  readonly #owners = new Owners();
  #value: DescriptorValue | undefined;
  #taken = false;

  constructor(value: DescriptorValue, kind: DescriptorKind = kindOf(value)) {
    super();
    this.#value = value;
    this.kind = kind;
    countOpen(true);
  }

  /** True once taken or closed. */
  get isClosed(): boolean {
    return this.#value === undefined;
  }

  /** The handle, without claiming it (it may still be closed with its owner). */
  peek(): DescriptorValue {
    if (this.#value === undefined)
      throw new ClosedError(this.#taken ? "descriptor (already taken)" : "descriptor");
    return this.#value;
  }

  /** Claims the handle: from now on the caller closes it; owners no longer will. */
  take(): DescriptorValue {
    const value = this.peek();
    this.#value = undefined;
    this.#taken = true;
    this.#release();
    return value;
  }

  /** Closes the handle unless it was taken; idempotent. */
  close(): void {
    const value = this.#value;
    if (value === undefined) return;
    this.#value = undefined;
    this.#release();
    closeHandle(value);
  }

  /** @internal Scopes call this when they start owning the descriptor. */
  addOwner(owner: Scope): void {
    this.#owners.add(owner);
  }

  #release(): void {
    this.#owners.leaveAll(this);
    countClosed(true);
  }
}

/** Works out the kind of a handle from its type. */
export function kindOf(value: DescriptorValue): DescriptorKind {
  if (typeof value === "number") return "fd";
  if (value instanceof Socket) return "socket";
  if (value instanceof Server) return "server";
  return "file";
}

function closeHandle(value: DescriptorValue): void {
  if (typeof value === "number") {
    closeFd(value, () => undefined);
  } else if (value instanceof Socket) {
    // destroy(), not end(): the peer process may still use its copy of the same socket.
    value.destroy();
  } else if (value instanceof Server) {
    value.close();
  } else {
    value.close().catch(() => undefined);
  }
}

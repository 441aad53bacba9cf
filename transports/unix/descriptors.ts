import type { FileHandle } from "node:fs/promises";
import { Server, Socket } from "node:net";
import { FileDescriptor } from "../../model/file-descriptor.js";
import type { DescriptorCodec } from "../../wire/connection.js";
import { closeFd, detachFd, dupFd, wrapFd } from "../../fd/index.js";

/**
 * How descriptors cross a Unix connection: a sent handle is detached from this process (its fd
 * is duplicated and the original destroyed, never ended, so the peer's copy lives on) and the
 * received fd arrives wrapped in its natural Node type.
 */
export const unixDescriptors: DescriptorCodec = {
  toFd(descriptor: FileDescriptor): number {
    const value = descriptor.take();
    if (typeof value === "number") return value; // ownership passes to the transport
    if (value instanceof Socket || value instanceof Server) return detachFd(value);
    const handle = value as FileHandle;
    const fd = dupFd(handle.fd);
    handle.close().catch(() => undefined);
    return fd;
  },
  fromFd(fd: number): FileDescriptor {
    const wrapped = wrapFd(fd);
    if ("socket" in wrapped) return new FileDescriptor(wrapped.socket, "socket");
    if ("server" in wrapped) return new FileDescriptor(wrapped.server, "server");
    return new FileDescriptor(wrapped.handle.fd, "fd");
  },
  discard(fd: number): void {
    closeFd(fd);
  },
};

/** Opening the TCP connection to the endpoint behind an exposed service. */
import { connect, type Socket } from "node:net";
import type { TcpAddress } from "./address.js";
import { UpstreamError } from "./errors.js";

/**
 * Connects to `address` and resolves with the connected socket, **paused and unread** (so it can
 * be handed over as an fd without losing bytes), or rejects with {@link UpstreamError} when the
 * endpoint refuses, is unreachable, or does not answer within `timeout` milliseconds.
 */
export function connectUpstream(address: TcpAddress, timeout: number, signal?: AbortSignal): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: address.host, port: address.port, allowHalfOpen: true, noDelay: true });
    // Paused before the connection completes, Node does not start reading from it.
    socket.pause();
    const fail = (errno: string, cause?: unknown): void => {
      cleanup();
      socket.destroy();
      reject(new UpstreamError({ host: address.host, port: address.port, errno }, cause));
    };
    const onError = (error: NodeJS.ErrnoException): void => fail(error.code ?? "EUNKNOWN", error);
    const onAbort = (): void => fail("ECANCELED", signal?.reason);
    const timer = timeout > 0 ? setTimeout(() => fail("ETIMEDOUT"), timeout) : undefined;
    const cleanup = (): void => {
      clearTimeout(timer);
      socket.off("error", onError);
      signal?.removeEventListener("abort", onAbort);
    };
    socket.once("error", onError);
    signal?.addEventListener("abort", onAbort, { once: true });
    socket.once("connect", () => {
      cleanup();
      resolve(socket);
    });
  });
}

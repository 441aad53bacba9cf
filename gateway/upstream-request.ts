/** Asking an exposed service for its upstream's connected socket (the hand-off request). */
import type { Socket } from "node:net";
import { ByteStream, FileDescriptor, type HubClient } from "../hub/index.js";
import { GatewayProtocolError } from "./errors.js";
import type { GatewayReply } from "./types.js";

/**
 * What a hand-off request brought: the upstream's socket; `"unsupported"` when descriptors cannot
 * reach this client; or the byte stream a transport without fd passing sent in the socket's
 * place (the upstream is connected behind it, so its bytes can be relayed over it).
 */
export type UpstreamOutcome = Socket | "unsupported" | ByteStream;

/**
 * Calls service `name` for its upstream's connected socket. Without `mayRelay` only a socket
 * will do: anything else fails (and a byte stream that came instead is reset, else the upstream
 * connection would stay open behind it).
 */
export async function requestUpstream(
  hub: HubClient,
  name: string,
  timeout: number,
  mayRelay: boolean,
): Promise<UpstreamOutcome> {
  let reply: GatewayReply;
  try {
    reply = await hub.call<GatewayReply>(name, { handoff: true }, { timeout });
  } catch (error) {
    if (mayRelay && cannotCarryFds(error)) return "unsupported";
    throw error;
  }
  const descriptor = reply?.socket;
  if (descriptor instanceof ByteStream) {
    if (mayRelay) return descriptor;
    const error = new GatewayProtocolError(
      `file descriptors cannot travel to this client: service ${name}'s socket arrived as a byte stream (use mode "relay" or "auto")`,
    );
    descriptor.reset(error);
    throw error;
  }
  if (!(descriptor instanceof FileDescriptor) || descriptor.kind !== "socket") {
    if (descriptor instanceof FileDescriptor) descriptor.close();
    throw new GatewayProtocolError(`service ${name} did not reply with a connected socket`);
  }
  return descriptor.take() as Socket;
}

/** Whether a failed hand-off call failed only because descriptors cannot reach this client. */
function cannotCarryFds(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  if (code === "EFD_UNAVAILABLE") return true;
  return code === "EINVALID_MESSAGE" && /descriptor/i.test(String((error as Error).message));
}

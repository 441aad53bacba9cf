import { DEFAULT_CODECS } from "../../wire/config.js";
import type { Socket } from "node:net";
import type { Channel, ChannelRequestOptions } from "../../model/channel.js";
import { InvalidArgumentError } from "../../model/errors.js";
import { FileDescriptor } from "../../model/file-descriptor.js";
import type { CallContext, CallOptions, Handler, HubClient } from "../types.js";
import { openSession } from "../../wire/open-session.js";
import { unixDescriptors } from "../../transports/unix/descriptors.js";
import { detachFd, FdSocket, socketPair } from "../../fd/index.js";
import { transportFor } from "../../transports/unix/unix-transport.js";

/**
 * Direct channels ("dynamic linking" in Beam's terms): two local peers of a hub that want to
 * talk a lot get a socketpair of their own, and their traffic no longer passes through the hub.
 *
 * The hub is only used once, to introduce them: the caller creates a socketpair and sends one
 * end, as an ordinary file descriptor in an ordinary call, to an instance of the service; the
 * service (registered with `acceptDirect`) runs a beamhub session on it. From then on the two
 * processes speak the session protocol (PROTOCOL.md) to each other over their own socket:
 * requests, events, nested channels, byte streams and further descriptors all work.
 */

/** The key of the offer in the call data; reserved. */
const OFFER = "$beamhub.direct";

/** A direct link to one instance of a service. */
export interface DirectService {
  /** Calls the service's handler directly (same semantics as a hub call). */
  call<Reply = unknown>(data?: unknown, options?: ChannelRequestOptions): Promise<Reply>;
  /** The raw channel to the service: events both ways, requests both ways. */
  readonly channel: Channel;
  /** Which instance answered the introduction. */
  readonly instance: string;
  /** Closes the direct link (the service keeps serving through the hub). */
  close(): Promise<void>;
  /** Settles when the link is gone, with the reason. */
  readonly closed: Promise<Error | undefined>;
}

/**
 * Opens a direct link to an instance of `name`, introduced through `hub` (a session connected
 * over the Unix transport, since the introduction passes a descriptor). The service must have
 * been registered with `acceptDirect`.
 */
export async function connectDirect(
  hub: HubClient,
  name: string,
  options: Pick<CallOptions, "labels" | "instance" | "timeout" | "waitForService"> = {},
): Promise<DirectService> {
  const [mine, theirs] = socketPair();
  let socket: FdSocket;
  try {
    socket = FdSocket.fromFd(mine, { batching: "microtask" });
  } catch (error) {
    unixDescriptors.discard(mine);
    unixDescriptors.discard(theirs);
    throw error;
  }
  const { connection } = openSession(transportFor(socket), {
    role: "client",
    codecs: DEFAULT_CODECS,
    descriptors: unixDescriptors,
  });
  try {
    const accepted = await hub.call<{ instance?: unknown }>(
      name,
      { [OFFER]: new FileDescriptor(theirs) },
      options,
    );
    if (typeof accepted?.instance !== "string") {
      throw new InvalidArgumentError(
        `service "${name}" answered the introduction without accepting a direct link (register its handler with acceptDirect)`,
      );
    }
    await connection.ready;
    const root = connection.root;
    return {
      call: <Reply>(data?: unknown, callOptions?: ChannelRequestOptions) =>
        root.request<Reply>(data, callOptions),
      channel: root,
      instance: accepted.instance,
      close: async () => {
        connection.close("direct link closed");
        await connection.closed;
      },
      closed: connection.closed,
    };
  } catch (error) {
    connection.close("direct introduction failed");
    throw error;
  }
}

/**
 * Wraps a service handler so that the service also accepts direct links (`connectDirect`).
 * Ordinary calls through the hub reach `handler` as before; an introduction starts a session on
 * the descriptor it carries, whose requests are served by the same `handler` (with
 * `caller.identity.via === "direct"`), until the other side closes it.
 */
export function acceptDirect<Request = unknown, Reply = unknown>(
  handler: Handler<Request, Reply>,
): Handler<Request, Reply | { instance: string }> {
  return (data, context) => {
    const offer = (data as Record<string, unknown> | null)?.[OFFER];
    if (offer === undefined) return handler(data, context);
    if (!(offer instanceof FileDescriptor) || (offer.kind !== "socket" && offer.kind !== "fd")) {
      throw new InvalidArgumentError("a direct introduction must carry a connected Unix socket");
    }
    serveDirect(offer, handler, context);
    return { instance: context.service.id };
  };
}

function serveDirect<Request, Reply>(
  offer: FileDescriptor,
  handler: Handler<Request, Reply>,
  introduction: CallContext,
): void {
  // Across processes the descriptor arrives wrapped as a net.Socket (in one process it is still
  // the bare fd); the session needs the raw fd in an FdSocket.
  const value = offer.take();
  const fd = typeof value === "number" ? value : detachFd(value as Socket);
  const { connection } = openSession(transportFor(FdSocket.fromFd(fd, { batching: "microtask" })), {
    role: "server",
    codecs: DEFAULT_CODECS,
    descriptors: unixDescriptors,
  });
  const caller = {
    sessionId: `direct:${introduction.caller.sessionId}`,
    identity: { id: introduction.caller.identity?.id ?? "unknown", via: "direct" },
  };
  connection.root.handle((request, context) =>
    handler(request as Request, {
      service: introduction.service,
      caller,
      deadline: undefined,
      get signal() {
        return context.signal;
      },
      onCancel: (listener) => context.onCancel(listener),
    }),
  );
}

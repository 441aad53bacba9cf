/**
 * The hand-off socket: a Unix socket next to a gateway's TCP port where programs run with the
 * hand-off library (`native/handoff-preload.c`, loaded by `beamhub run`) come for the upstream's
 * connected socket instead of connecting to the port. After the exchange the program talks to
 * the upstream itself; no process of ours stays in the data path. PROTOCOL.md ("The hand-off
 * socket") specifies the bytes.
 */
import type { Socket } from "node:net";
import { closeFd, detachFd, FdServer, type FdSocket } from "../fd/index.js";
import type { TcpAddress } from "./address.js";
import type { GatewayLog } from "./types.js";

/** The only request: "give me a connection". */
export const HANDOFF_REQUEST = 0x01;
/** The first byte of every reply. */
export const HANDOFF_REPLY = {
  /** A connected socket is attached to this byte. */
  descriptor: 0x00,
  /** The connection failed; a UTF-8 message follows until the end of the stream. */
  failed: 0x01,
  /** No descriptor can be handed over here: connect to the TCP port as usual. */
  useTcp: 0x02,
} as const;

/** A request that sends nothing is dropped after this long (the library sends at once). */
const REQUEST_TIMEOUT_MS = 10_000;

/** What the gateway gives for one request: the upstream's connected socket, or "use TCP". */
export type HandoffSupply = () => Promise<Socket | "use-tcp">;

/** A listening hand-off socket. */
export interface HandoffServer {
  /** The socket's path. */
  readonly path: string;
  /** Stops listening (removing the path) and drops unanswered requests; idempotent. */
  close(): Promise<void>;
}

/**
 * Listens on `path` (mode 0600: only this user's programs get connections); each request gets a
 * socket from `supply`. A failed supply answers with the error's message, which the library
 * prints on the program's stderr, and is logged.
 */
export async function listenHandoff(
  path: string,
  supply: HandoffSupply,
  log: GatewayLog,
): Promise<HandoffServer> {
  const pending = new Set<FdSocket>();
  const server = await FdServer.listen(path, {
    onConnection: (client) => {
      pending.add(client);
      client.on("error", () => undefined); // a program that went away: nothing to tell it
      client.once("close", () => pending.delete(client));
      answer(client, supply, log);
    },
  });
  let closed: Promise<void> | undefined;
  return {
    path,
    close: () =>
      (closed ??= (async () => {
        await server.close();
        for (const client of pending) client.destroy();
      })()),
  };
}

function answer(client: FdSocket, supply: HandoffSupply, log: GatewayLog): void {
  const timer = setTimeout(() => client.destroy(), REQUEST_TIMEOUT_MS);
  // On close, not end: a requester reset (or dropped by close()) never sends an end.
  client.once("close", () => clearTimeout(timer));
  client.once("data", (data, fds) => {
    clearTimeout(timer);
    for (const fd of fds) closeFd(fd); // nothing is sent this way; do not keep what was
    if (data[0] !== HANDOFF_REQUEST) {
      reply(
        client,
        HANDOFF_REPLY.failed,
        `unknown hand-off request 0x${(data[0] ?? 0).toString(16).padStart(2, "0")}`,
      );
      return;
    }
    supply().then(
      (upstream) => {
        if (upstream === "use-tcp") return reply(client, HANDOFF_REPLY.useTcp);
        let fd: number;
        try {
          fd = detachFd(upstream);
        } catch (error) {
          upstream.destroy();
          return reply(client, HANDOFF_REPLY.failed, (error as Error).message);
        }
        // The write owns the fd from here: sent, or closed if the program went away.
        client.write(Uint8Array.of(HANDOFF_REPLY.descriptor), [fd]);
        client.end();
      },
      (error: unknown) => {
        const message = error instanceof Error ? error.message : String(error);
        log(`hand-off request failed: ${message}`);
        reply(client, HANDOFF_REPLY.failed, message);
      },
    );
  });
}

function reply(client: FdSocket, status: number, message = ""): void {
  client.write([Uint8Array.of(status), Buffer.from(message, "utf8")]);
  client.end();
}

/**
 * The `BEAMHUB_HANDOFF` entries for a connector listening at `address`: the addresses a program
 * connects to. A wildcard listener is reached on loopback.
 */
export function handoffRoutes(address: TcpAddress, path: string): string[] {
  const hosts =
    address.host === "0.0.0.0"
      ? ["127.0.0.1"]
      : address.host === "::"
        ? ["::1", "127.0.0.1"]
        : [address.host];
  return hosts.map((host) => `${host.includes(":") ? `[${host}]` : host}:${address.port}=${path}`);
}

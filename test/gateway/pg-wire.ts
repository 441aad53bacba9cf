// A minimal PostgreSQL frontend (protocol 3.0, trust auth) over a raw net.Socket: enough to
// hold a session through the gateway, learn its backend's pid, send a query, and watch exactly
// what arrives and when the connection closes.
import { connect, type Socket } from "node:net";
import { within } from "../compliance/suite.js";

/** A backend message: its one-letter type and its payload. */
export interface PgMessage {
  type: string;
  payload: Buffer;
}

/** A session as the server set it up. */
export interface RawPgClient {
  readonly socket: Socket;
  /** The pid of the server process serving this session (from BackendKeyData). */
  readonly backendPid: number;
  /** Every message received so far. */
  readonly messages: readonly PgMessage[];
  /** Resolves when the socket has closed, with the error code if it was reset. */
  readonly closed: Promise<{ error?: string }>;
  /** Sends a simple query; its results (or errors) arrive in `messages`. */
  query(sql: string): void;
  /** The SQLSTATE codes of the ErrorResponses received (e.g. 57P01: terminated by admin). */
  errorCodes(): string[];
}

/** Opens a session on `port` and waits (bounded) until it is ready for a query. */
export async function rawPgClient(
  port: number,
  options: { user: string; database: string; application: string; timeout?: number },
): Promise<RawPgClient> {
  const socket = connect({ port, host: "127.0.0.1" });
  const messages: PgMessage[] = [];
  let pending = Buffer.alloc(0);
  let backendPid = 0;
  let error: string | undefined;
  socket.on("error", (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
  const closed = new Promise<{ error?: string }>((resolve) =>
    socket.once("close", () => resolve(error === undefined ? {} : { error })),
  );
  const ready = new Promise<void>((resolve, reject) => {
    socket.on("data", (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 5 && pending.length >= 1 + pending.readInt32BE(1)) {
        const end = 1 + pending.readInt32BE(1);
        const message = { type: String.fromCharCode(pending[0]!), payload: pending.subarray(5, end) };
        pending = pending.subarray(end);
        messages.push(message);
        if (message.type === "K") backendPid = message.payload.readInt32BE(0);
        if (message.type === "Z") resolve();
        if (message.type === "E" && backendPid === 0) reject(new Error(describeError(message.payload)));
      }
    });
    void closed.then(() => reject(new Error(`the connection closed during start-up (${error ?? "FIN"})`)));
  });
  socket.once("connect", () => {
    const parameters = Buffer.from(
      `user\0${options.user}\0database\0${options.database}\0application_name\0${options.application}\0\0`,
    );
    const startup = Buffer.alloc(8);
    startup.writeInt32BE(8 + parameters.length, 0);
    startup.writeInt32BE(196608, 4); // protocol 3.0
    socket.write(Buffer.concat([startup, parameters]));
  });
  try {
    await within(ready, options.timeout ?? 5_000, "the PostgreSQL session to be ready");
  } catch (cause) {
    socket.destroy();
    throw cause;
  }
  return {
    socket,
    backendPid,
    messages,
    closed,
    query(sql: string) {
      const text = Buffer.from(`${sql}\0`);
      const header = Buffer.alloc(5);
      header.write("Q", 0);
      header.writeInt32BE(4 + text.length, 1);
      socket.write(Buffer.concat([header, text]));
    },
    errorCodes: () => messages.filter((m) => m.type === "E").map((m) => errorField(m.payload, "C") ?? "?"),
  };
}

/** One field (`C` SQLSTATE, `M` message, ...) of an ErrorResponse payload. */
function errorField(payload: Buffer, code: string): string | undefined {
  let at = 0;
  while (at < payload.length && payload[at] !== 0) {
    const end = payload.indexOf(0, at + 1);
    if (String.fromCharCode(payload[at]!) === code) return payload.toString("utf8", at + 1, end);
    at = end + 1;
  }
  return undefined;
}

function describeError(payload: Buffer): string {
  return `${errorField(payload, "C") ?? "?"}: ${errorField(payload, "M") ?? "?"}`;
}

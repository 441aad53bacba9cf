import { connect, type Socket } from "node:net";
import { connect as connectTls, type ConnectionOptions } from "node:tls";
import { once } from "node:events";

/** An HTTP/1.1 answer read off a raw connection; `socket` goes on carrying bytes after a 101. */
export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  /** Bytes after the head (the body of an error, or the first bytes of an upgraded socket). */
  rest: Buffer;
  socket: Socket;
}

/**
 * Sends one request on a fresh connection, as a minimal client that upgrades would (Samply's
 * Python example sends `Upgrade` without `Connection: upgrade`), and reads the answer's head.
 */
export function rawRequest(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string>,
  timeoutMs = 10_000,
): Promise<RawAnswer> {
  return openRaw(port, method, path, headers, timeoutMs).answer;
}

/** {@link rawRequest}, with the connection at hand before the answer comes (to close it early). */
export function openRaw(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string>,
  timeoutMs = 10_000,
  tls?: { ca: string },
): { socket: Socket; answer: Promise<RawAnswer> } {
  // Half-open like a real upgraded client: receiving a FIN must not end what this side sends.
  const socket =
    tls === undefined
      ? connect({ port, host: "127.0.0.1", allowHalfOpen: true })
      : connectTls(tlsOptions(port, tls.ca));
  // Failures surface through `answer` or a `Received`; a reset after the test is done with it is not one.
  socket.on("error", () => undefined);
  return { socket, answer: readAnswer(socket, method, path, headers, timeoutMs) };
}

async function readAnswer(
  socket: Socket,
  method: string,
  path: string,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<RawAnswer> {
  socket.setTimeout(timeoutMs, () =>
    socket.destroy(new Error(`no answer to ${method} ${path} in ${timeoutMs} ms`)),
  );
  await once(socket, socket.constructor.name === "TLSSocket" ? "secureConnect" : "connect");
  const head = [
    `${method} ${path} HTTP/1.1`,
    "host: 127.0.0.1",
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  socket.write(`${head.join("\r\n")}\r\n\r\n`);
  let buffered = Buffer.alloc(0);
  for (;;) {
    const [chunk] = (await once(socket, "data")) as [Buffer];
    buffered = Buffer.concat([buffered, chunk]);
    const end = buffered.indexOf("\r\n\r\n");
    if (end < 0) continue;
    socket.pause();
    socket.setTimeout(0);
    const [statusLine, ...lines] = buffered.subarray(0, end).toString("latin1").split("\r\n");
    const answer: RawAnswer = {
      status: Number(statusLine!.split(" ")[1]),
      headers: Object.fromEntries(
        lines.map((line) => {
          const colon = line.indexOf(":");
          return [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()];
        }),
      ),
      rest: buffered.subarray(end + 4),
      socket,
    };
    return answer;
  }
}

/**
 * Collects what a socket receives from now on (after `first`), so a test can wait for a
 * number of bytes or for the end without losing chunks in between.
 */
export class Received {
  bytes: Buffer;
  ended = false;
  error: Error | undefined;
  readonly closed: Promise<void>;
  #wake: () => void = () => {};

  constructor(
    readonly socket: Socket,
    first: Buffer = Buffer.alloc(0),
  ) {
    this.bytes = first;
    socket.on("data", (chunk: Buffer) => {
      this.bytes = Buffer.concat([this.bytes, chunk]);
      this.#wake();
    });
    socket.on("end", () => {
      this.ended = true;
      this.#wake();
    });
    socket.on("error", (error) => {
      this.error = error;
      this.#wake();
    });
    this.closed = new Promise((resolve) => socket.once("close", () => resolve()));
    socket.once("close", () => this.#wake());
    socket.resume();
  }

  /** Resolves once `test` holds, rejects after `timeoutMs`. */
  async until(test: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!test()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** Waits for `count` bytes in all. */
  atLeast(count: number): Promise<void> {
    return this.until(() => this.bytes.length >= count, `${count} bytes (have ${this.bytes.length})`);
  }

  /** Waits for the peer's FIN. */
  end(): Promise<void> {
    return this.until(() => this.ended, "the end of the stream");
  }
}

/** TLS client options; half-open is a net option TLS sockets honour but its types omit. */
function tlsOptions(port: number, ca: string): ConnectionOptions {
  const options = { port, host: "127.0.0.1", ca, ALPNProtocols: ["http/1.1"], allowHalfOpen: true };
  return options;
}

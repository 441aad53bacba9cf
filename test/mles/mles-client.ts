// A small Mles client written from the spec (shared/reference/mles-spec.md §2, §3, §5, §7): a TLS
// WebSocket offering exactly `mles-websocket`, a first text frame {uid, channel, auth?}, then
// frames both ways. Tests use it as an outside client would; every wait is bounded.
import WebSocket, { type RawData } from "ws";

/** A frame as the client received it. */
export interface ReceivedFrame {
  readonly data: string | Buffer;
  readonly binary: boolean;
}

export interface MlesClientOptions {
  /** The hub's certificate (PEM), pinned. */
  ca: string;
  /** Path on the hub (Mles takes any). */
  path?: string;
  /** Subprotocols to offer in `Sec-WebSocket-Protocol` (default exactly `mles-websocket`). */
  protocols?: string[];
  headers?: Record<string, string>;
  /** Largest frame this client accepts (default 64 MiB). */
  maxPayload?: number;
}

export class MlesClient {
  readonly ws: WebSocket;
  readonly #frames: ReceivedFrame[] = [];
  #waiter: (() => void) | undefined;
  /** Settles with the close code and reason when the connection ends. */
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on("message", (data: RawData, binary: boolean) => {
      const bytes = Buffer.isBuffer(data) ? data : Buffer.concat(data as Buffer[]);
      this.#frames.push({ data: binary ? bytes : bytes.toString("utf8"), binary });
      this.#wake();
    });
    this.closed = new Promise((resolve) =>
      ws.once("close", (code, reason) => {
        this.#wake();
        resolve({ code, reason: reason.toString("utf8") });
      }),
    );
    ws.on("error", () => undefined); // the close event tells the outcome
  }

  /** Opens the WebSocket (resolves once upgraded, rejects with the HTTP refusal's status). */
  static open(hubUrl: string, options: MlesClientOptions): Promise<MlesClient> {
    const url = new URL(options.path ?? "/", hubUrl.replace(/^https:/, "wss:"));
    const ws = new WebSocket(url, options.protocols ?? ["mles-websocket"], {
      ca: options.ca,
      ...(options.headers === undefined ? {} : { headers: options.headers }),
      maxPayload: options.maxPayload ?? 64 * 1024 * 1024,
      handshakeTimeout: 10_000,
      ALPNProtocols: ["http/1.1"],
    } as WebSocket.ClientOptions);
    return new Promise((resolve, reject) => {
      ws.once("open", () => resolve(new MlesClient(ws)));
      ws.once("unexpected-response", (_request, response) => {
        reject(new Error(`HTTP ${response.statusCode}`));
        ws.terminate();
      });
      ws.once("error", reject);
    });
  }

  /** Opens and sends the header: the client is then a member (or will be closed with why). */
  static async join(
    hubUrl: string,
    header: { uid: string; channel: string; auth?: string },
    options: MlesClientOptions,
  ): Promise<MlesClient> {
    const client = await MlesClient.open(hubUrl, options);
    client.send(JSON.stringify(header));
    return client;
  }

  send(data: string | Uint8Array): void {
    this.ws.send(data, { binary: typeof data !== "string" });
  }

  /** The next frame, or an error after `timeout` ms or when the connection closed first. */
  async next(timeout = 10_000): Promise<ReceivedFrame> {
    const deadline = Date.now() + timeout;
    while (this.#frames.length === 0) {
      if (this.ws.readyState === WebSocket.CLOSED) throw new Error("closed before the next frame");
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no frame within ${timeout} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return this.#frames.shift()!;
  }

  /** The next `count` frames' text (binary ones as `bytes:<hex>`). */
  async texts(count: number, timeout = 10_000): Promise<string[]> {
    const texts: string[] = [];
    for (let i = 0; i < count; i++) {
      const frame = await this.next(timeout);
      texts.push(typeof frame.data === "string" ? frame.data : `bytes:${frame.data.toString("hex")}`);
    }
    return texts;
  }

  /** Frames received and not yet read. */
  get pending(): number {
    return this.#frames.length;
  }

  /** Waits for the close, at most `timeout` ms. */
  async closedWithin(timeout = 10_000): Promise<{ code: number; reason: string }> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        this.closed,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`not closed within ${timeout} ms`)), timeout);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    this.ws.close(1000);
    await this.closedWithin(5000).catch(() => this.ws.terminate());
  }

  #wake(): void {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.();
  }
}

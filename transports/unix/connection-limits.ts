import { DEFAULT_CODECS } from "../../wire/config.js";
/**
 * Caps on a Unix listener's connections, in total and per peer uid, and the refusal a peer over
 * a cap gets: after its HELLO, the server's HELLO followed by GOAWAY `ELIMIT` (PROTOCOL.md), so
 * the client's `connectUnix` fails with a `ProtocolError` whose code says why, not a reset.
 * @module
 */
import { encodeFrame, FrameType, HEADER_SIZE, readU32 } from "../../wire/frame.js";
import { encodeHello, PROTOCOL_NAME, PROTOCOL_VERSION } from "../../wire/hello.js";
import { closeFdsQuietly } from "../../fd/fd-ops.js";
import type { AbortableTransport } from "../../wire/keep-alive.js";

/**
 * Default cap on a listener's open Unix connections. An idle session costs the hub ~71 KiB of
 * RSS (measured: 1000 idle sessions took a hub from 100 to 169 MiB; most of it is each
 * session's 64 KiB outgoing buffer, ~15 KiB is heap), plus two socket buffers in the kernel. So
 * 1024 idle sessions are ~71 MiB: well inside a 1 GB hub, which needs its memory for what
 * sessions carry, not for the sessions. It also stays under the common soft fd limit (1024),
 * and the accept loop pauses on EMFILE anyway.
 */
export const DEFAULT_MAX_UNIX_CONNECTIONS = 1024;

/**
 * Default cap per peer uid: a quarter of the total (~18 MiB idle), so one local user (a runaway
 * script, or a hostile account the socket was opened to) cannot take every connection.
 */
export const DEFAULT_MAX_UNIX_CONNECTIONS_PER_UID = 256;

/** A connection the caps refused, for the listener's log. */
export interface UnixConnectionRefusal {
  /** Which cap: `"total"` or `"per-uid"`. */
  readonly limit: "total" | "per-uid";
  /** The peer's uid and pid when the kernel told them. */
  readonly uid: number | undefined;
  readonly pid: number | undefined;
  /** One line saying who was refused and why. */
  readonly message: string;
}

/** Counts open connections by uid and says whether one more may open. */
export class UnixConnectionLimits {
  readonly #perUid = new Map<number | undefined, number>();
  #total = 0;

  constructor(
    readonly maxTotal: number,
    readonly maxPerUid: number,
  ) {}

  /** Open connections now. */
  get total(): number {
    return this.#total;
  }

  /**
   * Takes a place for a connection from `uid` (undefined: credentials unknown, counted together),
   * returning the function that gives it back, or the cap that refuses it.
   */
  admit(uid: number | undefined): (() => void) | "total" | "per-uid" {
    if (this.#total >= this.maxTotal) return "total";
    const mine = this.#perUid.get(uid) ?? 0;
    if (mine >= this.maxPerUid) return "per-uid";
    this.#total++;
    this.#perUid.set(uid, mine + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#total--;
      const left = (this.#perUid.get(uid) ?? 1) - 1;
      if (left === 0) this.#perUid.delete(uid);
      else this.#perUid.set(uid, left);
    };
  }
}

/** How long a refused peer has to say HELLO, read its GOAWAY and hang up, before it is cut off. */
const REFUSAL_LINGER_MS = 1000;
/** A HELLO is small JSON; a peer that announces more than this is answered without waiting. */
const MAX_HELLO_WAIT_BYTES = 64 * 1024;

/**
 * Refuses a connection the session protocol's way: once the peer's HELLO has arrived (a side
 * may send nothing else before it has the other's HELLO, PROTOCOL.md), HELLO and GOAWAY
 * `{"code": "ELIMIT", ...}`, then the write side closes. What the peer sends is dropped (fds
 * closed); the transport is dropped when the peer hangs up, or after a second in any case.
 */
export function refuseConnection(transport: AbortableTransport, message: string): void {
  const drop = (): void => void (transport.abort ?? transport.close).call(transport);
  const linger = setTimeout(drop, REFUSAL_LINGER_MS);
  let received = Buffer.alloc(0);
  let answered = false;
  transport.start({
    data: (data, fds) => {
      if (fds.length > 0) closeFdsQuietly(fds);
      if (answered) return;
      received = Buffer.concat([received, data]);
      if (received.length < HEADER_SIZE) return;
      const frameBytes = HEADER_SIZE + readU32(received, 0);
      if (received.length < Math.min(frameBytes, MAX_HELLO_WAIT_BYTES)) return;
      answered = true;
      received = Buffer.alloc(0);
      const hello = encodeHello({
        protocol: PROTOCOL_NAME,
        version: PROTOCOL_VERSION,
        codecs: DEFAULT_CODECS.map((codec) => codec.name),
        maxFrameSize: 1024,
        streamWindow: 1024,
        fds: false,
      });
      const goaway = new TextEncoder().encode(JSON.stringify({ code: "ELIMIT", message }));
      transport.write([encodeFrame(FrameType.HELLO, 0, hello), encodeFrame(FrameType.GOAWAY, 0, goaway)], []);
      void transport.close();
    },
    // A peer gone already is fine: it was being sent away.
    closed: () => clearTimeout(linger),
  });
}

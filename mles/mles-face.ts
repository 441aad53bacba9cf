import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer } from "ws";
import type { Identity } from "../model/identity.js";
import type { PubSub } from "../pubsub/index.js";
import { MemberTable } from "./members.js";
import { MlesMember } from "./member.js";
import { verifyMlesOptions, type MlesConfig, type MlesOptions } from "./options.js";
import { MlesRefusals } from "./refusals.js";

/** The WebSocket subprotocol an Mles client asks for (IANA-registered). */
export const MLES_PROTOCOL = "mles-websocket";

/** Paths the Mles face never takes: beamhub's own. */
const BEAMHUB_PREFIX = "/beamhub/";

/** What the face needs of a hub: its pub/sub (`hub.pubsub`) and, when it has any, its access rules. */
export interface MlesHubLike {
  readonly pubsub: PubSub;
  /** The hub's access rules (`hub.allows`); without it every member may publish and subscribe. */
  allows?(identity: Identity | undefined, action: "publish" | "subscribe", channel: string): boolean;
}

/**
 * An Mles-compatible face of the hub's pub/sub (see mles.md in the reference): Mles clients —
 * a WebSocket offering the subprotocol `mles-websocket` on any path outside `/beamhub/` — join a
 * channel with a JSON header `{uid, channel, auth?}`, get its last `history` frames, then every
 * frame other members and beamhub publishers put in it; their own frames go verbatim to the
 * channel, tagged `mles:<uid>`. Hand {@link MlesFace.upgrade} to the HTTPS listener:
 *
 * @example
 * ```ts
 * const mles = new MlesFace(hub, { key: process.env.MLES_KEY });
 * const listener = await listenHttps(hub, { port: 8443, otherUpgrades: mles.upgrade });
 * // ... later: members hear 1001 (going away), then the listener closes
 * await mles.close();
 * await listener.close();
 * ```
 */
export class MlesFace {
  readonly #config: MlesConfig;
  readonly #hub: MlesHubLike;
  readonly #members: MemberTable<MlesMember>;
  /** Every connection, joined or still owing its header. */
  readonly #connections = new Set<MlesMember>();
  readonly #webSockets: WebSocketServer;
  readonly #refusals: MlesRefusals;
  #closing: Promise<void> | undefined;

  /** @throws {MlesConfigError} for an option out of range. */
  constructor(hub: MlesHubLike, options: MlesOptions = {}) {
    this.#config = verifyMlesOptions(options);
    this.#hub = hub;
    this.#members = new MemberTable(this.#config.maxMembersPerChannel);
    this.#refusals = new MlesRefusals(this.#config.onRefused);
    this.#webSockets = new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      maxPayload: this.#config.maxFrameSize,
      handleProtocols: () => MLES_PROTOCOL,
    });
  }

  /** Connections open now, members or not yet. */
  get connectionCount(): number {
    return this.#connections.size;
  }

  /** Members of `channel` now, or of every channel. */
  memberCount(channel?: string): number {
    return channel === undefined ? this.#members.size : this.#members.count(channel);
  }

  /**
   * Takes an HTTP upgrade if it is an Mles client's (returns true), else leaves it (false): what
   * `listenHttps`'s `otherUpgrades` wants. Refuses, with a plain HTTP answer, a page from an
   * origin not allowed (403, reported to `onRefused`) and any client while the face closes (503).
   */
  readonly upgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): boolean => {
    if (!isMlesUpgrade(request)) return false;
    if (this.#closing !== undefined) return refuse(socket, 503, "the hub is shutting down");
    const origin = request.headers.origin;
    const allowed = this.#config.allowOrigins;
    if (
      origin !== undefined &&
      allowed !== undefined &&
      !allowed.includes("*") &&
      !allowed.includes(origin)
    ) {
      const reason = `origin ${origin} may not use this hub's Mles face`;
      this.#refusals.origin(request, reason);
      return refuse(socket, 403, reason);
    }
    // The listener's idle timeout stays on the socket; the member's pings keep it busy.
    this.#webSockets.handleUpgrade(request, socket, head, (ws) => {
      if (this.#closing !== undefined) return ws.terminate();
      const member = new MlesMember(ws, {
        channels: this.#hub.pubsub,
        allows: (identity, action, channel) => this.#hub.allows?.(identity, action, channel) ?? true,
        members: this.#members,
        config: this.#config,
        ended: (ended) => this.#connections.delete(ended),
        refused: (error, identity) => this.#refusals.member(request, error, identity),
      });
      this.#connections.add(member);
    });
    return true;
  };

  /**
   * Closes every connection (1001) and takes no more; resolves when they have closed (a peer
   * that does not answer its close frame is cut within 2 s).
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const members = [...this.#connections];
      for (const member of members) member.close();
      await Promise.all(members.map((member) => member.closed));
      this.#webSockets.close();
    })();
    return this.#closing;
  }
}

/** An upgrade to a WebSocket offering `mles-websocket`, on a path that is not beamhub's. */
function isMlesUpgrade(request: IncomingMessage): boolean {
  if ((request.url ?? "/").startsWith(BEAMHUB_PREFIX)) return false;
  if (String(request.headers.upgrade ?? "").toLowerCase() !== "websocket") return false;
  const offered = String(request.headers["sec-websocket-protocol"] ?? "")
    .split(",")
    .map((protocol) => protocol.trim());
  return offered.includes(MLES_PROTOCOL);
}

const REASONS: Readonly<Record<number, string>> = { 403: "Forbidden", 503: "Service Unavailable" };

function refuse(socket: Duplex, status: number, message: string): true {
  const body = `${message}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${REASONS[status]}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
  socket.once("finish", () => socket.destroy());
  return true;
}

import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { decodeControlAnswer, decodeHeartbeat } from "./control-request.js";
import type { MalformedCounts } from "./malformed.js";
import type { ClusterSubjects } from "./subjects.js";

/** Timing of the cluster's liveness checks (ms). */
export interface LivenessTiming {
  /** How often each hub says it is alive (default 1000). */
  heartbeatMs?: number;
  /** Silence after which a hub is probed, and dead if the probe fails (default 3000). */
  deadAfterMs?: number;
  /** How often hubs this one has links with are probed (default 250). */
  probeMs?: number;
}

/** What one hub knows of another. */
interface Peer {
  epoch: string | undefined;
  lastSeen: number;
  probing: boolean;
}

/**
 * Knows which hubs of the cluster are alive, and declares one dead only when that is confirmed:
 * - every hub publishes a heartbeat each `heartbeatMs` (O(N) messages per second in all, one
 *   per hub — never its service list);
 * - a hub silent for `deadAfterMs` is probed on its control subject: no answer, or NATS saying
 *   nobody listens there ("no responders"), confirms the death — one lost heartbeat does not;
 * - hubs with live links are probed every `probeMs`: a killed hub's subscriptions vanish from
 *   NATS at once, so the next probe gets "no responders" and the work on its links fails within
 *   about `probeMs`, not at a timeout.
 * A hub whose heartbeat or probe answer shows a new epoch restarted: `onRestarted` fires (what
 * was on links to its previous run is lost). A hub heard from again after it was declared dead
 * (it was only frozen or overloaded) fires `onBack`; and when this hub's own checks ran late by
 * `deadAfterMs` or more — it was frozen itself, and the others may have judged it dead —
 * `onStalled` fires.
 */
export class Liveness {
  readonly #nc: NatsConnection;
  readonly #subjects: ClusterSubjects;
  readonly #self: string;
  readonly #epoch: string;
  readonly #heartbeatMs: number;
  readonly #deadAfterMs: number;
  readonly #peers = new Map<string, Peer>();
  readonly #timers: ReturnType<typeof setInterval>[] = [];
  readonly #subscription: Subscription;
  #sequence = 0;
  /** When the last check ran: a gap of `deadAfterMs` means this hub itself was stalled. */
  #lastCheck = Date.now();
  /** Hubs declared dead: heard from again, they are back. */
  readonly #judged = new Set<string>();
  /** While this hub itself is cut from NATS, silence proves nothing about the others. */
  #suspended = false;

  constructor(
    nc: NatsConnection,
    subjects: ClusterSubjects,
    self: { name: string; epoch: string },
    timing: LivenessTiming,
    private readonly events: {
      linkedPeers(): Set<string>;
      onDead(hub: string, epoch: string | undefined, why: string): void;
      onRestarted(hub: string): void;
      /** `hub` was declared dead, and is heard from again (in the same run, or a new one). */
      onBack?(hub: string): void;
      /** This hub's own timers ran `stalledMs` late: others may have declared it dead meanwhile. */
      onStalled?(stalledMs: number): void;
    },
    private readonly malformed?: MalformedCounts,
  ) {
    this.#nc = nc;
    this.#subjects = subjects;
    this.#self = self.name;
    this.#epoch = self.epoch;
    this.#heartbeatMs = timing.heartbeatMs ?? 1000;
    this.#deadAfterMs = timing.deadAfterMs ?? 3000;
    const probeMs = timing.probeMs ?? 250;
    this.#subscription = nc.subscribe(subjects.heartbeats, {
      callback: (error, message) => {
        if (error) return;
        const beat = decodeHeartbeat(message.data);
        // The subject names the hub (NATS permissions let a hub publish only its own): a
        // heartbeat that names another is not believed.
        if (beat === undefined || message.subject !== subjects.heartbeat(beat.hub))
          this.malformed?.count("heartbeat");
        else if (beat.hub !== this.#self) this.#seen(beat.hub, beat.epoch);
      },
    });
    this.#beat();
    this.#timers.push(setInterval(() => this.#beat(), this.#heartbeatMs));
    this.#timers.push(setInterval(() => this.#check(), probeMs));
    for (const timer of this.#timers) timer.unref();
  }

  /** The hubs this hub believes alive. */
  get alive(): string[] {
    return [...this.#peers.keys()];
  }

  /** A hub named somewhere (a registry record): watched from now on, dead if it stays silent. */
  know(hub: string): void {
    if (hub !== "" && hub !== this.#self && !this.#peers.has(hub))
      this.#peers.set(hub, { epoch: undefined, lastSeen: Date.now(), probing: false });
  }

  /** Anything arrived from `hub` (a link message): as good as a heartbeat, which may queue behind it. */
  heard(hub: string): void {
    const peer = this.#peers.get(hub);
    if (peer !== undefined) peer.lastSeen = Date.now();
  }

  /** This hub lost its NATS connection: no one is judged until it is back. */
  suspend(): void {
    this.#suspended = true;
  }

  /** Back on NATS: everyone gets a fresh `deadAfterMs` to be heard from. */
  resume(): void {
    this.#suspended = false;
    const now = Date.now();
    for (const peer of this.#peers.values()) peer.lastSeen = now;
  }

  close(): void {
    for (const timer of this.#timers) clearInterval(timer);
    this.#subscription.unsubscribe();
  }

  #beat(): void {
    try {
      this.#nc.publish(
        this.#subjects.heartbeat(this.#self),
        JSON.stringify({ hub: this.#self, epoch: this.#epoch, seq: this.#sequence++ }),
      );
    } catch {
      // Disconnected: NATS reconnects; peers probe meanwhile.
    }
  }

  #seen(hub: string, epoch: string): void {
    const peer = this.#peers.get(hub);
    if (peer === undefined) {
      this.#peers.set(hub, { epoch, lastSeen: Date.now(), probing: false });
      if (this.#judged.has(hub)) {
        this.#judged.delete(hub);
        this.events.onBack?.(hub);
      }
      return;
    }
    peer.lastSeen = Date.now();
    if (peer.epoch !== undefined && peer.epoch !== epoch) this.events.onRestarted(hub);
    peer.epoch = epoch;
  }

  #check(): void {
    const now = Date.now();
    const stalled = now - this.#lastCheck;
    this.#lastCheck = now;
    if (stalled >= this.#deadAfterMs) this.events.onStalled?.(stalled);
    if (this.#suspended) return;
    const linked = this.events.linkedPeers();
    for (const hub of linked) this.know(hub);
    for (const [hub, peer] of this.#peers) {
      if (peer.probing) continue;
      const silent = now - peer.lastSeen >= this.#deadAfterMs;
      if (silent || linked.has(hub)) this.#probe(hub, peer, silent);
    }
  }

  #probe(hub: string, peer: Peer, silent: boolean): void {
    peer.probing = true;
    this.#nc
      .request(this.#subjects.control(hub), JSON.stringify({ op: "probe" }), {
        // Short for a hub with links (a probe in flight delays the next one), longer for a
        // silent one: a timeout alone never kills a hub that was heard from lately.
        timeout: silent ? Math.max(250, this.#heartbeatMs) : 500,
      })
      .then(
        (reply) => {
          peer.probing = false;
          // Whoever answers on the hub's control subject must say its epoch; anything else is
          // dropped (and the hub stays unheard from).
          const answer = decodeControlAnswer(reply.data);
          if (answer === undefined) this.malformed?.count("heartbeat");
          else this.#seen(hub, answer.epoch);
        },
        (error: { isNoResponders?: () => boolean }) => {
          peer.probing = false;
          if (this.#peers.get(hub) !== peer || this.#suspended) return;
          const gone = error?.isNoResponders?.() === true;
          // A timeout alone may be a slow network or a busy hub: dead only if the silence still
          // lasts — a heartbeat that came while the probe waited proves the hub alive (judging by
          // the silence seen when the probe left declared loaded hubs dead and flapped).
          if (gone || Date.now() - peer.lastSeen >= this.#deadAfterMs) {
            this.#peers.delete(hub);
            this.#judged.add(hub);
            this.events.onDead(
              hub,
              peer.epoch,
              gone
                ? "its hub left NATS (no responders)"
                : `no sign of life for ${Date.now() - peer.lastSeen} ms`,
            );
          }
        },
      );
  }
}

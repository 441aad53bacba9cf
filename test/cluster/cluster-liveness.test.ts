// Liveness judged against a real NATS server, the other hub played by a plain NATS client so
// that exactly when it speaks is under the test's control.
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Liveness } from "../../cluster/liveness.js";
import { ClusterSubjects } from "../../cluster/subjects.js";
import { startNatsServer, type SingleNatsServer } from "../helpers/nats-cluster.js";

let server: SingleNatsServer;
let judge: NatsConnection;
let peer: NatsConnection;
const subjects = new ClusterSubjects("liveness");

beforeAll(async () => {
  server = await startNatsServer({ jetstream: false });
  judge = await connect({ servers: server.url });
  peer = await connect({ servers: server.url });
}, 60_000);

afterAll(async () => {
  await judge?.close();
  await peer?.close();
  await server?.stop();
});

describe("cluster liveness", () => {
  it("a hub heard from while its probe was unanswered is not declared dead", async () => {
    const beat = () =>
      peer.publish(subjects.heartbeat("busy"), JSON.stringify({ hub: "busy", epoch: "e1", seq: 0 }));
    // "busy" answers no probe (a hub whose event loop is saturated), but speaks again as soon as
    // the first probe reaches it, and keeps beating from then on.
    let beating: ReturnType<typeof setInterval> | undefined;
    const probed = new Promise<void>((resolve) => {
      peer.subscribe(subjects.control("busy"), {
        callback: () => {
          beat();
          beating ??= setInterval(beat, 50);
          resolve();
        },
      });
    });
    await peer.flush();
    const deaths: string[] = [];
    const liveness = new Liveness(
      judge,
      subjects,
      { name: "judge", epoch: "j1" },
      { heartbeatMs: 100, deadAfterMs: 300, probeMs: 50 },
      {
        linkedPeers: () => new Set(),
        onDead: (hub, _epoch, why) => deaths.push(`${hub}: ${why}`),
        onRestarted: () => undefined,
      },
    );
    try {
      liveness.know("busy");
      await within(probed, 10_000, "the silent hub was never probed");
      // The probe times out after 250 ms; a further second of heartbeats must keep it alive.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect(deaths).toEqual([]);
      expect(liveness.alive).toContain("busy");
    } finally {
      liveness.close();
      clearInterval(beating);
    }
  });
});

/** `promise`, or a failure naming `what` after `ms`. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(what)), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

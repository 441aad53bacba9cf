// The parts that bring back a hub judged dead while it was alive, each against a real NATS server
// with JetStream: the publisher reads its keys back and rewrites what others deleted (its watch
// of the bucket may never show the deletes); liveness tells a hub it was stalled long enough to
// be judged dead, and tells the judges when a hub they declared dead speaks again; the mirror
// takes a forgotten hub's keys again instead of skipping them as already seen.
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Kvm, type KV } from "@nats-io/kv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Hub } from "../../index.js";
import { Liveness } from "../../cluster/liveness.js";
import { RegistryMirror } from "../../cluster/registry-mirror.js";
import { RegistryPublisher } from "../../cluster/registry-publisher.js";
import { decodeServiceRecord } from "../../cluster/service-record.js";
import { ClusterSubjects } from "../../cluster/subjects.js";
import { within } from "../compliance/suite.js";
import { startNatsServer, type SingleNatsServer } from "../helpers/nats-cluster.js";

let server: SingleNatsServer;
let nc: NatsConnection;
let kv: KV;
const subjects = new ClusterSubjects("republish");

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connect({ servers: server.url });
  kv = await new Kvm(nc).create(subjects.bucket, { history: 1 });
}, 60_000);

afterAll(async () => {
  await nc?.close();
  await server?.stop();
});

/** Polls `check` every 20 ms until it holds; fails naming `what` after `ms`. */
async function until(check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} (waited ${ms} ms)`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("a publisher checking its keys against the bucket", () => {
  it("rewrites a deleted key, a deleted record, and a key another run wrote; leaves good ones alone", async () => {
    const hub = new Hub();
    const errors: unknown[] = [];
    const publisher = new RegistryPublisher({
      hub,
      nc,
      kv,
      subjects,
      self: "p1",
      epoch: "run2",
      isStandIn: () => false,
      record: { host: "here" },
      onHosted: () => undefined,
      onError: (error) => errors.push(error),
    });
    try {
      await publisher.writeRecord();
      const session = hub.session();
      session.registerNow("rp.one", () => 1);
      session.registerNow("rp.two", () => 2);
      await publisher.settled();
      const one = subjects.serviceKey("rp.one", "p1");
      const two = subjects.serviceKey("rp.two", "p1");
      const untouched = (await kv.get(two))!.revision;

      // What judges do to a hub they declared dead, and what a previous run left.
      await kv.delete(one);
      await kv.delete(subjects.hubKey("p1"));
      await publisher.verify();
      await publisher.settled();
      const back = await kv.get(one);
      expect(back?.operation).toBe("PUT");
      expect(decodeServiceRecord(back!.value)).toMatchObject({ name: "rp.one", hub: "p1", epoch: "run2" });
      expect((await kv.get(subjects.hubKey("p1")))!.json()).toMatchObject({ hub: "p1", epoch: "run2" });
      expect((await kv.get(two))!.revision).toBe(untouched);

      await kv.put(two, JSON.stringify({ name: "rp.two", hub: "p1", epoch: "run1", instances: [] }));
      await publisher.verify();
      await publisher.settled();
      expect(decodeServiceRecord((await kv.get(two))!.value)).toMatchObject({
        epoch: "run2",
        instances: [expect.objectContaining({ id: expect.any(String) })],
      });
      expect(errors).toEqual([]);
    } finally {
      await publisher.close(true);
      await kv.delete(subjects.hubKey("p1"));
      await hub.close();
    }
  });
});

describe("liveness when a hub was judged dead", () => {
  it("tells this hub it was stalled past deadAfterMs, and the judge when a dead hub speaks again", async () => {
    const stalls: number[] = [];
    const back: string[] = [];
    const dead: string[] = [];
    const liveness = new Liveness(
      nc,
      subjects,
      { name: "judge", epoch: "j1" },
      { heartbeatMs: 100, deadAfterMs: 300, probeMs: 50 },
      {
        linkedPeers: () => new Set(),
        onDead: (hub) => dead.push(hub),
        onRestarted: () => undefined,
        onBack: (hub) => back.push(hub),
        onStalled: (ms) => stalls.push(ms),
      },
    );
    try {
      // "ghost" is named by a record but nobody answers its probes: "no responders", dead.
      liveness.know("ghost");
      await until(() => dead.includes("ghost"), 10_000, "the silent hub was never declared dead");
      expect(back).toEqual([]);
      nc.publish(subjects.heartbeat("ghost"), JSON.stringify({ hub: "ghost", epoch: "g1", seq: 0 }));
      await until(() => back.includes("ghost"), 10_000, "the dead hub speaking again was not told");
      expect(liveness.alive).toContain("ghost");

      expect(stalls).toEqual([]);
      // This very event loop frozen for longer than deadAfterMs, as SIGSTOP or a saturated hub does.
      const until500 = Date.now() + 500;
      while (Date.now() < until500);
      await until(() => stalls.length > 0, 10_000, "the stall was not told");
      expect(stalls[0]).toBeGreaterThanOrEqual(300);
    } finally {
      liveness.close();
    }
  });
});

describe("a mirror that forgot a hub", () => {
  it("takes the hub's keys again on its next read, though it saw their revisions before", async () => {
    const hub = new Hub();
    const mirror = new RegistryMirror({
      hub,
      self: "m1",
      subjects,
      forwarding: { remote: () => Promise.reject(new Error("no calls in this test")) },
      onHub: () => undefined,
      onOwnKeyRemoved: () => undefined,
    });
    const errors: unknown[] = [];
    try {
      await kv.put(
        subjects.serviceKey("rm.svc", "other"),
        JSON.stringify({ name: "rm.svc", hub: "other", epoch: "o1", instances: [{ id: "i1", labels: {} }] }),
      );
      await within(
        mirror.follow(kv, nc, (error) => errors.push(error)),
        15_000,
        "the mirror to catch up",
      );
      await until(async () => (await hub.lookup("rm.svc")).length === 1, 10_000, "no stand-in at first");

      // Declared dead, but its keys stayed (the judge's delete failed, or it rewrote them before).
      mirror.forgetHub("other");
      await until(async () => (await hub.lookup("rm.svc")).length === 0, 10_000, "the stand-in stayed");
      await mirror.resync();
      await until(
        async () => (await hub.lookup("rm.svc")).length === 1,
        10_000,
        "a resync skipped the forgotten hub's key as already seen",
      );

      mirror.forgetHub("other");
      await until(async () => (await hub.lookup("rm.svc")).length === 0, 10_000, "the stand-in stayed");
      await mirror.refreshHub("other");
      expect(await hub.lookup("rm.svc")).toHaveLength(1);
      expect(errors).toEqual([]);
    } finally {
      await mirror.close();
      await kv.delete(subjects.serviceKey("rm.svc", "other"));
      await hub.close();
    }
  });
});

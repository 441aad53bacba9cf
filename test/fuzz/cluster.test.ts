/**
 * The cluster's decoders under hostile bytes. Pure properties for each decoder (link messages,
 * service records, control requests, heartbeats, a link fed garbage), then the same kinds of
 * bytes sent by a plain NATS client to a real hub's subjects — control, links, heartbeats,
 * registry announcements and keys, pub/sub relay, plain service requests with odd headers,
 * `$SRV` discovery. Every malformed message is ignored (and counted) or answered with a typed
 * error; nothing throws out of a NATS callback (an unhandled error fails the run), nothing
 * hangs (every request is answered), and the links and sessions opened by fake hubs are gone
 * once liveness has judged them.
 */
import { randomBytes } from "node:crypto";
import fc from "fast-check";
import { connect, headers as natsHeaders, type NatsConnection } from "@nats-io/transport-node";
import { Kvm, type KV } from "@nats-io/kv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cborCodec } from "../../codecs/index.js";
import { joinCluster, type Cluster } from "../../cluster/index.js";
import { decodeControlAnswer, decodeControlRequest, decodeHeartbeat } from "../../cluster/control-request.js";
import { LinkResetError } from "../../cluster/errors.js";
import type { LinkMessageType } from "../../cluster/link-message.js";
import { decodeLinkMessage, encodeLinkMessage } from "../../cluster/link-message.js";
import { LinkTransport } from "../../cluster/link-transport.js";
import { decodeServiceRecord } from "../../cluster/service-record.js";
import { ClusterSubjects } from "../../cluster/subjects.js";
import { Hub } from "../../index.js";
import { startNatsServer, type SingleNatsServer } from "../helpers/nats-cluster.js";
import { fuzzParameters, timeLimit } from "./settings.js";

/** 16 hex digits (a link id, an epoch). */
const hex16 = fc
  .uint8Array({ minLength: 8, maxLength: 8 })
  .map((bytes) => Buffer.from(bytes).toString("hex"));

/** JSON-ish values, with the shapes the decoders look for mixed in. */
const hostileJson = fc.oneof(
  fc.jsonValue(),
  fc.constantFrom(null, 0, "", [], {}, { op: "probe" }, { op: "open" }, { epoch: null }, { hub: 1 }),
  fc.record(
    {
      op: fc.constantFrom("open", "probe", "close", null),
      link: fc.oneof(hex16, fc.string(), fc.integer()),
      from: fc.oneof(fc.string({ maxLength: 200 }), fc.constant(null)),
      epoch: fc.oneof(hex16, fc.string(), fc.constant(1)),
      hub: fc.oneof(fc.string(), fc.integer()),
      name: fc.oneof(fc.string(), fc.integer()),
      instances: fc.oneof(
        fc.array(
          fc.record(
            { id: fc.oneof(fc.string(), fc.integer()), labels: fc.oneof(fc.jsonValue(), fc.constant(null)) },
            { requiredKeys: [] },
          ),
        ),
        fc.jsonValue(),
      ),
    },
    { requiredKeys: [] },
  ),
);

const hostileBytes = fc.oneof(
  fc.uint8Array({ maxLength: 64 }),
  hostileJson.map((value) => new TextEncoder().encode(JSON.stringify(value))),
  fc.string().map((text) => new TextEncoder().encode(text)),
);

describe("cluster decoders, alone", () => {
  it("decodeLinkMessage returns undefined or a message that encodes back to the same bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
        const message = decodeLinkMessage(bytes);
        if (message === undefined) return;
        const again = encodeLinkMessage(
          message.type,
          Buffer.from(message.link, "hex"),
          message.seq,
          message.body,
        );
        expect(Buffer.from(again).equals(Buffer.from(bytes))).toBe(true);
      }),
      fuzzParameters("cluster link message", 500),
    );
  });

  it("decodeServiceRecord never throws and returns only well-formed records", () => {
    const recordLike = fc
      .record({
        name: fc.oneof(fc.string(), fc.integer()),
        hub: fc.oneof(fc.string(), fc.constant(null)),
        instances: fc.array(fc.record({ id: fc.oneof(fc.string(), fc.integer()), labels: fc.jsonValue() })),
      })
      .map((value) => new TextEncoder().encode(JSON.stringify(value)));
    fc.assert(
      fc.property(fc.oneof(hostileBytes, recordLike), (bytes) => {
        const record = decodeServiceRecord(bytes);
        if (record === undefined) return;
        expect(typeof record.name).toBe("string");
        expect(typeof record.hub).toBe("string");
        for (const instance of record.instances) {
          expect(typeof instance.id).toBe("string");
          expect(Object.getPrototypeOf(instance.labels)).toBe(Object.prototype);
          for (const value of Object.values(instance.labels)) expect(typeof value).toBe("string");
        }
      }),
      fuzzParameters("cluster service record", 500),
    );
  });

  it("control requests, probe answers and heartbeats decode to their shape or undefined", () => {
    fc.assert(
      fc.property(hostileBytes, (bytes) => {
        const request = decodeControlRequest(bytes);
        if (request?.op === "open") {
          expect(request.link).toMatch(/^[0-9a-f]{16}$/);
          expect(typeof request.from).toBe("string");
          expect(typeof request.epoch).toBe("string");
        } else if (request !== undefined) expect(request).toEqual({ op: "probe" });
        const answer = decodeControlAnswer(bytes);
        if (answer !== undefined) expect(typeof answer.epoch).toBe("string");
        const beat = decodeHeartbeat(bytes);
        if (beat !== undefined) expect([typeof beat.hub, typeof beat.epoch]).toEqual(["string", "string"]);
      }),
      fuzzParameters("cluster control request", 500),
    );
  });

  it("a link fed garbage and mutated messages never throws; it ends only with a LinkResetError", () => {
    const id = Buffer.from("0123456789abcdef", "hex");
    const message = fc.oneof(
      fc.uint8Array({ maxLength: 32 }),
      fc
        .tuple(
          fc.integer({ min: 0, max: 6 }),
          fc.integer({ min: 0, max: 4 }),
          fc.uint8Array({ maxLength: 16 }),
          fc.boolean(),
        )
        .map(([type, seq, body, ownLink]) =>
          encodeLinkMessage(type as LinkMessageType, ownLink ? id : randomBytes(8), seq, body),
        ),
    );
    fc.assert(
      fc.property(fc.array(message, { maxLength: 12 }), (messages) => {
        const sent: Uint8Array[] = [];
        const transport = new LinkTransport(id, "peer", {
          send: (bytes) => sent.push(bytes),
          maxPayload: 65536,
        });
        let closedWith: Error | undefined | null = null;
        let delivered = 0;
        transport.start({
          data: (bytes) => (delivered += bytes.byteLength),
          closed: (error) => (closedWith = error),
        });
        for (const bytes of messages) transport.receive(bytes);
        transport.write([new Uint8Array(10)]);
        if (closedWith !== null && closedWith !== undefined)
          expect(closedWith).toBeInstanceOf(LinkResetError);
        // What the other side sends after an end is dropped, not delivered.
        for (const bytes of sent) expect(decodeLinkMessage(bytes)).toBeDefined();
        expect(delivered).toBeGreaterThanOrEqual(0);
      }),
      fuzzParameters("cluster link transport", 300),
    );
  });
});

describe("a hub's NATS subjects under hostile messages", () => {
  const subjects = new ClusterSubjects("fz");
  let nats: SingleNatsServer;
  const hubA = new Hub();
  const hubB = new Hub();
  let a: Cluster;
  let b: Cluster;
  let raw: NatsConnection;
  let kv: KV;
  const errorsOfA: unknown[] = [];
  let baselineSessions = 0;

  beforeAll(async () => {
    nats = await startNatsServer();
    a = await joinCluster(hubA, {
      servers: nats.url,
      name: "fz",
      hub: "hub-a",
      onError: (error) => errorsOfA.push(error),
    });
    b = await joinCluster(hubB, { servers: nats.url, name: "fz", hub: "hub-b" });
    const service = hubA.session();
    service.registerNow("fz.echo", (data: unknown) => data);
    await a.settled();
    raw = await connect({ servers: nats.url });
    kv = await new Kvm(raw).open(subjects.bucket);
    // The link B → A, opened by a call: the fuzz must not break it.
    const until = Date.now() + 10_000;
    while ((await hubB.lookup("fz.echo")).length === 0) {
      if (Date.now() > until) throw new Error("hub B never saw fz.echo");
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(await hubB.call("fz.echo", "hello", { timeout: 10_000 })).toBe("hello");
    baselineSessions = hubA.sessionsInfo().length;
  }, 60_000);

  afterAll(async () => {
    await raw?.close();
    await b?.leave();
    await a?.leave();
    await Promise.all([hubA.close(), hubB.close()]);
    await nats?.stop();
  });

  /** Link ids from a small set, so that fuzzed opens and messages hit the same links. */
  const linkId = fc.constantFrom("00000000000000a1", "00000000000000a2", "00000000000000a3");
  /** Fake hub names (never hub-a or hub-b: a hub that lies about them is fenced by permissions). */
  const fakeHub = fc.constantFrom("fz-1", "fz-2", "fz 3.*", "");
  const linkMessage = fc
    .tuple(
      linkId,
      fc.integer({ min: 0, max: 6 }),
      fc.integer({ min: 0, max: 3 }),
      fc.uint8Array({ maxLength: 24 }),
    )
    .map(([link, type, seq, body]) => encodeLinkMessage(type, Buffer.from(link, "hex"), seq, body));
  const openRequest = fc
    .record({ link: linkId, from: fakeHub, epoch: fc.constantFrom("00000000000000e1", "x", "") })
    .map((request) => new TextEncoder().encode(JSON.stringify({ op: "open", ...request })));
  const text = fc.oneof(
    fc.string(),
    fc.constantFrom("x\r\ny", '"\r\n', "\n", "{", "\u0000", "a".repeat(2000), "[1,2", "null"),
  );
  const headerValue = fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom("", " ", "Nats-Service-Error"));

  type Action =
    | { kind: "control"; bytes: Uint8Array; reply: boolean }
    | { kind: "link"; from: string; bytes: Uint8Array }
    | { kind: "heartbeat"; hub: string; bytes: Uint8Array }
    | { kind: "announce"; text: string }
    | { kind: "key"; key: string; bytes: Uint8Array }
    | { kind: "publication"; channel: string; bytes: Uint8Array }
    | { kind: "request"; body: string; headers: [string, string][] }
    | { kind: "discovery"; subject: string; bytes: Uint8Array };

  const action: fc.Arbitrary<Action> = fc.oneof(
    fc.record({
      kind: fc.constant("control"),
      bytes: fc.oneof(hostileBytes, openRequest),
      reply: fc.boolean(),
    }),
    fc.record({
      kind: fc.constant("link"),
      from: fakeHub,
      bytes: fc.oneof(linkMessage, fc.uint8Array({ maxLength: 20 })),
    }),
    fc.record({
      kind: fc.constant("heartbeat"),
      hub: fakeHub,
      bytes: fc.oneof(
        hostileBytes,
        fakeHub.map((hub) =>
          new TextEncoder().encode(JSON.stringify({ hub, epoch: "00000000000000e1", seq: 0 })),
        ),
      ),
    }),
    fc.record({
      kind: fc.constant("announce"),
      text: fc.oneof(
        text,
        fakeHub.map((hub) => `${subjects.serviceKey("fz.ghost", hub)} 999999`),
      ),
    }),
    fc.record({
      kind: fc.constant("key"),
      key: fc.oneof(
        fakeHub.map((hub) => subjects.serviceKey("fz.ghost", hub)),
        fc.constantFrom("svc.x", "svc.a.b.c", "svc.=ZZ.=", "hub.fz-1"),
      ),
      bytes: fc.oneof(
        hostileBytes,
        fc
          .record({ labels: fc.jsonValue(), id: fc.string() })
          .map(({ labels, id }) =>
            new TextEncoder().encode(
              JSON.stringify({ name: "fz.ghost", hub: "fz-1", epoch: "e", instances: [{ id, labels }] }),
            ),
          ),
      ),
    }),
    fc.record({
      kind: fc.constant("publication"),
      channel: fc.constantFrom("fz.news", "", "a b", "x".repeat(300)),
      bytes: fc.oneof(
        fc.uint8Array({ maxLength: 32 }),
        fc
          .record(
            {
              hub: fc.oneof(fakeHub, fc.integer()),
              from: fc.oneof(fc.string(), fc.integer()),
              data: fc.jsonValue(),
            },
            { requiredKeys: [] },
          )
          .map((value) => cborCodec.encode(value)),
        fc.jsonValue().map((value) => cborCodec.encode(value)),
      ),
    }),
    fc.record({
      kind: fc.constant("request"),
      body: text,
      headers: fc.array(
        fc.tuple(fc.constantFrom("Nats-Service-Error", "X-Fz", "Beamhub-Error-Code"), headerValue),
        {
          maxLength: 3,
        },
      ),
    }),
    fc.record({
      kind: fc.constant("discovery"),
      subject: fc.constantFrom("$SRV.PING", "$SRV.INFO.beamhub", `$SRV.STATS.beamhub.hub-a`, "$SRV.INFO"),
      bytes: hostileBytes,
    }),
  );

  function openOf(link: string, from: string): Uint8Array {
    return new TextEncoder().encode(JSON.stringify({ op: "open", link, from, epoch: "00000000000000e1" }));
  }

  /** Sends one action; a request must be answered (never left hanging). */
  async function send(next: Action): Promise<void> {
    switch (next.kind) {
      case "control":
        if (next.reply)
          await raw.request(subjects.control("hub-a"), next.bytes, { timeout: 2000 }).catch(() => undefined);
        else raw.publish(subjects.control("hub-a"), next.bytes);
        return;
      case "link":
        raw.publish(subjects.link("hub-a", next.from), next.bytes);
        return;
      case "heartbeat":
        raw.publish(subjects.heartbeat(next.hub), next.bytes);
        return;
      case "announce":
        raw.publish(subjects.registryChanges, next.text);
        return;
      case "key":
        await kv.put(next.key, next.bytes).catch(() => undefined);
        return;
      case "publication":
        raw.publish(`beam.fz.pub.${subjects.serviceToken(next.channel)}`, next.bytes);
        return;
      case "request": {
        const headers = natsHeaders();
        for (const [name, value] of next.headers) if (!/[\r\n]/.test(value)) headers.append(name, value);
        const reply = await raw.request(subjects.service("fz.echo"), next.body, { timeout: 10_000, headers });
        // Answered: the echo, or a typed error with the service-error headers.
        if (reply.headers?.get("Nats-Service-Error-Code")) {
          expect(reply.headers.get("Beamhub-Error-Code")).toMatch(/^E[A-Z_]+$/);
          expect(reply.headers.get("Nats-Service-Error")).not.toMatch(/[\r\n]/);
          expect((reply.json() as { error: { code: string } }).error.code).toMatch(/^E[A-Z_]+$/);
        } else if (next.body === "") expect(reply.data.byteLength).toBe(0);
        else expect(reply.json()).toEqual(JSON.parse(next.body));
        return;
      }
      case "discovery": {
        const reply = await raw.request(next.subject, next.bytes, { timeout: 5000 });
        expect((reply.json() as { name: string }).name).toBe("beamhub");
        return;
      }
    }
  }

  it(
    "ignores or answers every message typed; the hubs keep calling each other; nothing is left behind",
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(action, { minLength: 1, maxLength: 8 }), async (actions) => {
          for (const next of actions) await send(next);
          await raw.flush();
          // The link between the real hubs is untouched and the NATS connection is up.
          expect(await hubB.call("fz.echo", 1, { timeout: 10_000 })).toBe(1);
          expect(a.nats.isClosed()).toBe(false);
        }),
        {
          ...fuzzParameters<[Action[]]>("cluster subjects", 40, 8),
          // Findings, kept as examples: an error message quoting a body with CR/LF made nats.js
          // throw on the header (an unhandled rejection); `null` threw in the control callback;
          // a second open of a link id orphaned the first session on it.
          examples: [
            [[{ kind: "request", body: "x\r\ny", headers: [] }]],
            [[{ kind: "control", bytes: new TextEncoder().encode("null"), reply: false }]],
            [
              [
                { kind: "control", bytes: openOf("00000000000000b1", "fz-1"), reply: true },
                { kind: "control", bytes: openOf("00000000000000b1", "fz-2"), reply: true },
              ],
            ],
          ],
        },
      );
      const malformed = a.malformed();
      expect(Object.values(malformed).reduce((sum, count) => sum + count, 0)).toBeGreaterThan(0);
      // Links fake hubs opened are reset once liveness finds no such hub: their sessions close.
      const until = Date.now() + 15_000;
      while (hubA.sessionsInfo().length > baselineSessions) {
        if (Date.now() > until)
          throw new Error(
            `hub A still has ${hubA.sessionsInfo().length} sessions, ${baselineSessions} before: ` +
              JSON.stringify(hubA.sessionsInfo().map((session) => session.identity)),
          );
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(await hubB.call("fz.echo", "after", { timeout: 10_000 })).toBe("after");
    },
    timeLimit(90_000),
  );
});

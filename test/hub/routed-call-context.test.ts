// A call the hub routes to a service in another session reaches it with the call's context as
// the protocol says ({data, service, caller, deadline}): the hub encodes `service` and `caller`
// once per registration and calling session over CBOR (issue 19, the hub hop), so several
// callers, several registrations and a service on another codec must each see their own, every
// time. Real Unix sockets, real sessions.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cborCodec, jsonCodec } from "../../codecs/index.js";
import {
  connectUnix,
  Hub,
  listenUnix,
  type CallContext,
  type RemoteHub,
  type UnixListener,
} from "../../index.js";

let dir: string;
let hub: Hub;
let listener: UnixListener;
const clients: RemoteHub[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-routed-context-"));
  hub = new Hub();
  listener = await listenUnix(hub, join(dir, "hub.sock"));
});

afterAll(async () => {
  for (const client of clients) await client.close();
  await listener.close();
  await hub.close();
  await rm(dir, { recursive: true, force: true });
});

async function client(codec = cborCodec): Promise<RemoteHub> {
  const connected = await connectUnix(join(dir, "hub.sock"), { codecs: [codec] });
  clients.push(connected);
  return connected;
}

/** What the service saw of a call, as plain data. */
const seen = (data: unknown, context: CallContext): unknown => ({
  data,
  service: context.service,
  caller: context.caller,
  deadline: context.deadline,
});

describe("a call routed to a service in another session", () => {
  it("carries each registration's service and each caller's own session and identity, every call", async () => {
    const cborService = await client(cborCodec);
    const jsonService = await client(jsonCodec);
    const registrations = [
      await cborService.register("ctx.cbor", seen, { labels: { codec: "cbor" } }),
      await cborService.register("ctx.cbor.other", seen),
      await jsonService.register("ctx.json", seen, { labels: { codec: "json" } }),
    ];
    const callers = [await client(), await client()];
    const sessions = hub.sessionsInfo().map((session) => session.id);
    for (let round = 0; round < 3; round++) {
      for (const caller of callers) {
        for (const registration of registrations) {
          const before = Date.now();
          const answer = (await caller.call(registration.info.name, { round }, { timeout: 60_000 })) as {
            data: unknown;
            service: unknown;
            caller: { sessionId: string; identity: { id: string; via: string; uid: number; pid: number } };
            deadline: number;
          };
          expect(answer.data).toEqual({ round });
          expect(answer.service).toEqual(registration.info);
          expect(sessions).toContain(answer.caller.sessionId);
          expect(answer.caller.identity).toMatchObject({
            via: "unix",
            uid: process.getuid!(),
            pid: process.pid,
          });
          // The deadline is per call, never one encoded once.
          expect(answer.deadline).toBeGreaterThanOrEqual(before + 60_000);
          expect(answer.deadline).toBeLessThanOrEqual(Date.now() + 60_000);
        }
      }
    }
    // Each caller is told apart, on both codecs.
    const first = (await callers[0]!.call("ctx.cbor", 1)) as { caller: { sessionId: string } };
    const second = (await callers[1]!.call("ctx.cbor", 1)) as { caller: { sessionId: string } };
    const secondJson = (await callers[1]!.call("ctx.json", 1)) as { caller: { sessionId: string } };
    expect(first.caller.sessionId).not.toBe(second.caller.sessionId);
    expect(secondJson.caller.sessionId).toBe(second.caller.sessionId);
  }, 60_000);
});

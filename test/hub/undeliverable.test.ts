// A message that cannot be delivered — no such service, forbidden, timed out or aborted while
// waiting for one, its session gone — must not leave what it carried open: a request on a
// channel nobody will ever answer used to wait forever, and DATA into a stream nobody reads was
// accepted. The hub closes them, with the call's error as the reason. In one process and over
// a real Unix session.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ByteStream,
  Channel,
  Hub,
  connectUnix,
  listenUnix,
  type HubClient,
  type UnixListener,
} from "../../index.js";
import { within } from "../compliance/suite.js";

let dir: string;
let hub: Hub;
let listener: UnixListener;
let path: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-undeliverable-"));
  path = join(dir, "hub.sock");
  hub = new Hub({
    authorize: { call: (identity, service) => identity?.id === "local" || !service.startsWith("secret.") },
  });
  await hub.register("secret.thing", () => "no");
  listener = await listenUnix(hub, path);
});

afterAll(async () => {
  await listener?.close();
  await hub?.close();
  await rm(dir, { recursive: true, force: true });
});

/** Expects the channel and stream a failed call carried to be closed, bounded. */
async function expectClosed(mine: Channel, myStream: ByteStream, code: string): Promise<void> {
  await within(mine.closed, 3000, "the carried channel to close");
  await expect(mine.request("anyone?")).rejects.toMatchObject({ code: "ECLOSED" });
  await within(myStream.closed, 3000, "the carried stream to close");
  const writer = myStream.writable.getWriter();
  await expect(writer.write(new Uint8Array([1]))).rejects.toBeDefined();
  void code;
}

const clients: [string, () => Promise<HubClient & { close?(): Promise<void> }>][] = [
  ["in one process", () => Promise.resolve(hub.session({ identity: { id: "guest", via: "local" } }))],
  ["over a Unix session", () => connectUnix(path)],
];

describe.each(clients)("undeliverable attachments %s", (_name, connect) => {
  const cases: [string, (client: HubClient, data: unknown) => Promise<unknown>, string][] = [
    ["no such service", (client, data) => client.call("nobody.here", data), "ESERVICE_NOT_FOUND"],
    ["forbidden", (client, data) => client.call("secret.thing", data), "EFORBIDDEN"],
    [
      "timed out waiting for the service",
      (client, data) => client.call("late.comer", data, { timeout: 100, waitForService: true }),
      "ETIMEOUT",
    ],
    [
      "aborted while waiting for the service",
      (client, data) => {
        const controller = new AbortController();
        setTimeout(() => controller.abort(new Error("changed my mind")), 50);
        return client.call("late.comer", data, { signal: controller.signal, waitForService: 5000 });
      },
      "EABORTED",
    ],
  ];

  it.each(cases)("%s: the call fails and what it carried is closed", async (_what, call, code) => {
    const client = await connect();
    try {
      const [mine, theirs] = Channel.pair();
      const [myStream, theirStream] = ByteStream.pair();
      await expect(call(client, { reply: theirs, nested: [{ stream: theirStream }] })).rejects.toMatchObject({
        code,
      });
      await expectClosed(mine, myStream, code);
    } finally {
      await client.close?.();
    }
  });
});

describe("a call on a session that is already closed", () => {
  it("fails and closes what it carried", async () => {
    const session = hub.session({ identity: { id: "late", via: "local" } });
    await session.close();
    const [mine, theirs] = Channel.pair();
    const [myStream, theirStream] = ByteStream.pair();
    await expect(session.call("anything", { reply: theirs, stream: theirStream })).rejects.toMatchObject({
      code: "ECLOSED",
    });
    await expectClosed(mine, myStream, "ECLOSED");
  });
});

describe("a call waiting for its service when its session closes", () => {
  it("closes what it carried", async () => {
    const client = await connectUnix(path);
    const [mine, theirs] = Channel.pair();
    const [myStream, theirStream] = ByteStream.pair();
    const call = client.call(
      "never.comes",
      { reply: theirs, stream: theirStream },
      { waitForService: 60_000 },
    );
    call.catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await client.close();
    await expect(call).rejects.toBeDefined();
    await expectClosed(mine, myStream, "ECLOSED");
  });
});

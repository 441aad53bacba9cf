/**
 * One channel-name rule (pubsub/channel-name.ts) on every side: the in-process core, a hub
 * session, and a remote client over a real Unix socket accept and refuse the same names — and a
 * name Mles clients use but no service name allows (a space, `#`) carries messages end to end.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Hub } from "../../hub/hub.js";
import { connectUnix } from "../../hub/remote/connect-unix.js";
import { listenUnix } from "../../hub/remote/listen-unix.js";
import type { RemoteHub } from "../../hub/remote/remote-hub.js";
import { InvalidNameError } from "../../model/errors.js";
import { isValidChannelName, PubSub, type PubSubMessage } from "../../pubsub/index.js";
import { within } from "../compliance/suite.js";

const dir = mkdtempSync(join(tmpdir(), "beamhub-channel-name-"));
const hub = new Hub();
let listener: { close(): Promise<void> };
let client: RemoteHub;

beforeAll(async () => {
  listener = await listenUnix(hub, join(dir, "hub.sock"));
  client = (await connectUnix(join(dir, "hub.sock"), { reconnect: false })) as RemoteHub;
});

afterAll(async () => {
  await client?.close();
  await listener?.close();
  await hub.close();
  rmSync(dir, { recursive: true, force: true });
});

/** `InvalidNameError` thrown by `attempt`, or undefined when it accepted the name. */
function refusal(attempt: () => { close(): void }): unknown {
  try {
    attempt().close();
    return undefined;
  } catch (error) {
    return error;
  }
}

const names = fc.oneof(
  fc.string({ maxLength: 300 }),
  fc.string({ unit: "binary", maxLength: 8 }),
  fc.stringMatching(/^[\x20-\x7e]{1,8}$/),
  fc.constantFrom(
    "",
    " ",
    "chat room",
    "#general",
    "a?b=c&d",
    "é",
    "a\nb",
    "\u007f",
    "x".repeat(255),
    "x".repeat(256),
  ),
);

describe("the pub/sub channel-name rule", () => {
  it("is the same for the core, a hub session and a remote client", async () => {
    const core = new PubSub();
    const session = hub.session();
    try {
      fc.assert(
        fc.property(names, (name) => {
          const expected = /^[\x20-\x7e]{1,255}$/.test(name);
          expect(isValidChannelName(name)).toBe(expected);
          for (const side of [
            () => core.subscribe(name, "someone", { history: false }),
            () => session.subscribe(name, { history: false }),
            () => client.subscribe(name, { history: false }),
          ]) {
            const error = refusal(side);
            if (expected) expect(error).toBeUndefined();
            else {
              expect(error).toBeInstanceOf(InvalidNameError);
              expect((error as InvalidNameError).code).toBe("EINVALID_NAME");
              expect((error as Error).message).toMatch(/printable ASCII/);
            }
          }
        }),
        { numRuns: 300 },
      );
      // The hub agrees with the client: what the client let through, the hub accepted.
      await expect(client.publish("x".repeat(256), 1)).rejects.toBeInstanceOf(InvalidNameError);
      await expect(client.publish("a\tb", 1)).rejects.toThrow(/printable ASCII/);
    } finally {
      await session.close();
      await core.close();
    }
  });

  it("carries a channel named as Mles clients name them, over a real socket", async () => {
    for (const channel of ["chat room", "#general?x=1", "~ / % @ *"]) {
      const subscription = client.subscribe(channel, { history: false });
      await within(subscription.ready, 10_000, `subscribing to ${channel}`);
      const published = await client.publish(channel, { text: channel });
      const next = await within(subscription[Symbol.asyncIterator]().next(), 10_000, "the message");
      expect(next.value).toMatchObject({
        seq: published.seq,
        data: { text: channel },
      } as Partial<PubSubMessage>);
      subscription.close();
      expect(hub.pubsub.channels().some((info) => info.name === channel)).toBe(true);
    }
  });
});

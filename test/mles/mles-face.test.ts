// The Mles face over real wss:// with the hub's certificate, against the spec (mles-spec.md):
// join with history, no echo, join frames in history only, duplicates refused, auth, Mles <->
// beamhub pub/sub both ways, and the limits (header deadline, frame size, members per channel).
import { afterEach, describe, expect, it } from "vitest";
import { connectHttps } from "../../index.js";
import { mlesAuth } from "../../mles/auth.js";
import { isLagged, type PubSubMessage } from "../../pubsub/index.js";
import { mlesFixture, type MlesFixture } from "./fixture.js";

let fixture: MlesFixture | undefined;

afterEach(async () => {
  await fixture?.close();
  fixture = undefined;
});

async function start(
  options: Parameters<typeof mlesFixture>[0] = {},
  pubsubOptions: Parameters<typeof mlesFixture>[1] = {},
): Promise<MlesFixture> {
  fixture = await mlesFixture(options, pubsubOptions);
  return fixture;
}

const joinFrame = (uid: string, channel: string): string => JSON.stringify({ uid, channel });

describe("Mles members", () => {
  it("replay history (join frames included) to a joiner, then live frames, never their own", async () => {
    const { join } = await start();
    const alice = await join("alice", "example");
    alice.send("Hello?");
    alice.send(Uint8Array.of(0, 1, 2, 255));
    // Bob joins late: he gets what Alice sent, her join frame first, binary as binary.
    const bob = await join("bob", "example");
    expect(await bob.texts(3)).toEqual([joinFrame("alice", "example"), "Hello?", "bytes:000102ff"]);
    // Live frames from now on, verbatim, to the others only.
    bob.send("Hello Alice!");
    expect(await alice.texts(1)).toEqual(["Hello Alice!"]); // not Bob's join frame: Mles sends it to nobody live
    alice.send("Hi Bob");
    expect(await bob.texts(1)).toEqual(["Hi Bob"]); // not his own "Hello Alice!"
    // Carol gets the whole story, in order, both join frames included.
    const carol = await join("carol", "example");
    expect(await carol.texts(5)).toEqual([
      joinFrame("alice", "example"),
      "Hello?",
      "bytes:000102ff",
      joinFrame("bob", "example"),
      "Hello Alice!",
    ]);
    expect((await carol.texts(1))[0]).toBe("Hi Bob");
    expect(carol.pending).toBe(0);
  });

  it("keeps channels apart and replays at most `history` frames, oldest first", async () => {
    const { join } = await start({ history: 3 });
    const alice = await join("alice", "one");
    const other = await join("alice", "two"); // the same uid on another channel is another member
    for (const text of ["a", "b", "c", "d"]) alice.send(text);
    other.send("elsewhere");
    const bob = await join("bob", "one");
    expect(await bob.texts(3)).toEqual(["b", "c", "d"]);
    alice.send("e");
    expect(await bob.texts(1)).toEqual(["e"]);
  });

  it("refuses a second connection with the same (uid, channel), leaving the first as it was", async () => {
    const { join, face } = await start();
    const first = await join("alice", "example");
    const bob = await join("bob", "example");
    await first.texts(0);
    const second = await join("alice", "example");
    const closed = await second.closedWithin();
    expect(closed.code).toBe(1008);
    expect(closed.reason).toMatch(/^EMLES_DUPLICATE: uid "alice" is already a member of example/);
    expect(second.pending).toBe(0); // no history for a refused duplicate
    bob.send("still there?");
    expect(await first.texts(1)).toEqual(["still there?"]);
    expect(face.memberCount("example")).toBe(2);
    // Once the first leaves, the uid is free again.
    await first.close();
    await waitFor(() => face.memberCount("example") === 1);
    const again = await join("alice", "example");
    expect((await again.texts(2))[1]).toBe(joinFrame("bob", "example"));
  });

  it("with a key, admits only headers whose auth is SipHash(uid‖channel‖key)", async () => {
    const { join } = await start({ key: "s3cret" });
    const alice = await join("alice", "example", { auth: mlesAuth("alice", "example", "s3cret") });
    for (const [header, why] of [
      [{}, /^EMLES_AUTH: this hub requires auth/],
      [{ auth: mlesAuth("alice", "example") }, /^EMLES_AUTH: auth does not match/],
      [{ auth: mlesAuth("mallory", "example", "guessed") }, /^EMLES_AUTH: auth does not match/],
      [{ auth: mlesAuth("alice", "example", "s3cret") }, /^EMLES_AUTH: auth does not match/], // Alice's, not Mallory's
      [{ auth: "not hex" }, /^EMLES_AUTH/],
    ] as const) {
      const mallory = await join("mallory", "example", header);
      const closed = await mallory.closedWithin();
      expect(closed.code).toBe(1008);
      expect(closed.reason).toMatch(why);
    }
    // Upper-case hex is the same number, as Mles reads it.
    const bob = await join("bob", "example", { auth: mlesAuth("bob", "example", "s3cret").toUpperCase() });
    expect(await bob.texts(1)).toEqual([
      JSON.stringify({ uid: "alice", channel: "example", auth: mlesAuth("alice", "example", "s3cret") }),
    ]);
    bob.send("authenticated");
    expect(await alice.texts(1)).toEqual(["authenticated"]);
  });

  it("without a key, checks an auth that is present against SipHash(uid‖channel)", async () => {
    const { join } = await start();
    const good = await join("alice", "example", { auth: mlesAuth("alice", "example") });
    const bad = await join("bob", "example", { auth: mlesAuth("bob", "example", "guess") });
    expect((await bad.closedWithin()).reason).toMatch(
      /^EMLES_AUTH: auth does not match SipHash\(uid‖channel\)/,
    );
    good.send("ok");
    const carol = await join("carol", "example");
    expect((await carol.texts(2))[1]).toBe("ok");
  });
});

describe("the hub's access rules", () => {
  it("apply to Mles members: anonymous without a key, mles:<uid> (via mles) with one", async () => {
    const { join, hub } = await start({ key: "k" });
    const seen: string[] = [];
    hub.authorize({
      subscribe: (identity, channel) => {
        seen.push(`${identity?.via}:${identity?.id}:${channel}`);
        return channel !== "private" || identity?.id === "mles:alice";
      },
      publish: (identity, channel) => channel !== "read-only",
    });
    const auth = (uid: string, channel: string): { auth: string } => ({ auth: mlesAuth(uid, channel, "k") });
    const alice = await join("alice", "private", auth("alice", "private"));
    const bob = await join("bob", "private", auth("bob", "private"));
    expect(await bob.closedWithin()).toEqual({
      code: 1008,
      reason: 'EMLES_FORBIDDEN: the hub\'s access rules do not let mles:bob subscribe to "private"',
    });
    const reader = await join("carol", "read-only", auth("carol", "read-only"));
    expect((await reader.closedWithin()).reason).toBe(
      'EMLES_FORBIDDEN: the hub\'s access rules do not let mles:carol publish to "read-only"',
    );
    expect(seen).toContain("mles:mles:alice:private");
    alice.send("only Alice may be here");
    expect(alice.pending).toBe(0);
  });

  it("see an anonymous member when the hub has no key: a uid alone proves nothing", async () => {
    const { join, hub } = await start();
    hub.authorize({ subscribe: (identity) => identity !== undefined });
    const anyone = await join("alice", "lobby");
    expect((await anyone.closedWithin()).reason).toBe(
      'EMLES_FORBIDDEN: the hub\'s access rules do not let an anonymous member subscribe to "lobby"',
    );
  });
});

describe("Mles and beamhub on one channel", () => {
  it("a beamhub subscriber gets Mles frames tagged mles:<uid>, text as strings, binary as bytes", async () => {
    const { join, pubsub } = await start();
    const subscription = pubsub.subscribe("example", "app");
    const alice = await join("alice", "example");
    alice.send("hi from Mles");
    alice.send(Uint8Array.of(7, 8, 9));
    const iterator = subscription[Symbol.asyncIterator]();
    const read = async (): Promise<PubSubMessage> => {
      const { value } = await within(iterator.next());
      if (value === undefined || isLagged(value)) throw new Error("expected a message");
      return value;
    };
    expect(await read()).toMatchObject({
      from: "mles-join:alice",
      data: joinFrame("alice", "example"),
      seq: 1,
    });
    expect(await read()).toMatchObject({ from: "mles:alice", data: "hi from Mles", seq: 2 });
    const bytes = await read();
    expect(bytes.from).toBe("mles:alice");
    expect(bytes.data).toBeInstanceOf(Uint8Array);
    expect([...(bytes.data as Uint8Array)]).toEqual([7, 8, 9]);
    subscription.close();
  });

  it("Mles members get beamhub publications: objects as JSON text, strings as text, bytes as binary", async () => {
    const { join, pubsub } = await start();
    await pubsub.publish("example", { text: "before anyone" }, "app");
    const alice = await join("alice", "example");
    expect(await alice.texts(1)).toEqual(['{"text":"before anyone"}']);
    await pubsub.publish("example", "plain", "app");
    await pubsub.publish("example", Uint8Array.of(1, 2), "app");
    await pubsub.publish("example", [1, null, true], "app");
    await pubsub.publish("example", 12n, "app"); // no JSON form: skipped, not a broken frame
    await pubsub.publish("example", 42, "app");
    const frames = [await alice.next(), await alice.next(), await alice.next(), await alice.next()];
    expect(
      frames.map((frame) => [frame.binary, frame.binary ? [...(frame.data as Buffer)] : frame.data]),
    ).toEqual([
      [false, "plain"],
      [true, [1, 2]],
      [false, "[1,null,true]"],
      [false, "42"],
    ]);
  });
});

describe.each(["websocket", "http2"] as const)("Mles and a remote beamhub session (%s)", (transport) => {
  it("see each other's messages on one channel, history included", async () => {
    const { join, listener } = await start();
    const alice = await join("alice", "lobby");
    alice.send("before the session came");
    const remote = await connectHttps(listener.url, { ca: listener.certificate, transport });
    try {
      const subscription = remote.subscribe("lobby", { history: true });
      const iterator = subscription[Symbol.asyncIterator]();
      const data = async (): Promise<unknown> => {
        const { value } = await within(iterator.next());
        if (value === undefined || isLagged(value)) throw new Error("expected a message");
        return [value.from, value.data];
      };
      expect(await data()).toEqual(["mles-join:alice", joinFrame("alice", "lobby")]);
      expect(await data()).toEqual(["mles:alice", "before the session came"]);
      alice.send(Uint8Array.of(1, 2, 3));
      const [from, bytes] = (await data()) as [string, Uint8Array];
      expect(from).toBe("mles:alice");
      expect([...bytes]).toEqual([1, 2, 3]);
      await remote.publish("lobby", { from: "the session", text: "hi Alice" });
      await remote.publish("lobby", "plain text");
      expect(await alice.texts(2)).toEqual(['{"from":"the session","text":"hi Alice"}', "plain text"]);
      subscription.close();
    } finally {
      await remote.close();
    }
  });
});

describe("the upgrade hook", () => {
  it("leaves other upgrades and beamhub's paths alone: 404, and beamhub's WebSocket still works", async () => {
    const { open, beamhubStillServes } = await start();
    await expect(open({ protocols: ["chat"] })).rejects.toThrow(/HTTP 404/);
    await expect(open({ path: "/beamhub/v1/other" })).rejects.toThrow(/HTTP 404/);
    await expect(open({ path: "/beamhub/anything" })).rejects.toThrow(/HTTP 404/);
    // Any other path is Mles's, and a list that offers mles-websocket among others is too.
    const member = await open({ path: "/some/chat", protocols: ["chat", "mles-websocket"] });
    expect(member.ws.protocol).toBe("mles-websocket");
    await beamhubStillServes();
  });

  it("refuses pages from origins not allowed (403), lets clients without Origin in", async () => {
    const { open } = await start({ allowOrigins: ["https://chat.example"] });
    await expect(open({ headers: { origin: "https://evil.example" } })).rejects.toThrow(/HTTP 403/);
    const page = await open({ headers: { origin: "https://chat.example" } });
    const tool = await open();
    expect([page.ws.protocol, tool.ws.protocol]).toEqual(["mles-websocket", "mles-websocket"]);
  });
});

describe("limits", () => {
  it("closes a connection that sends no header within headerTimeout", async () => {
    const { open, face } = await start({ headerTimeout: 300 });
    const silent = await open();
    const closed = await silent.closedWithin();
    expect(closed).toEqual({
      code: 1008,
      reason: "EMLES_HEADER_TIMEOUT: no Mles header frame within 300 ms",
    });
    await waitFor(() => face.connectionCount === 0);
  });

  it("closes a member that sends a frame over maxFrameSize with 1009; the channel goes on", async () => {
    const { join, beamhubStillServes } = await start({ maxFrameSize: 1024 });
    const alice = await join("alice", "example");
    const bob = await join("bob", "example");
    await bob.texts(0);
    alice.send("x".repeat(2000));
    expect((await alice.closedWithin()).code).toBe(1009);
    bob.send("after");
    const carol = await join("carol", "example");
    expect(await carol.texts(3)).toEqual([
      joinFrame("alice", "example"),
      joinFrame("bob", "example"),
      "after",
    ]);
    await beamhubStillServes();
  });

  it("refuses members past maxMembersPerChannel with 1013", async () => {
    const { join, face } = await start({ maxMembersPerChannel: 2 });
    await join("a", "room");
    await join("b", "room");
    await waitFor(() => face.memberCount("room") === 2);
    const third = await join("c", "room");
    expect(await third.closedWithin()).toEqual({
      code: 1013,
      reason: "EMLES_FULL: channel room has its maximum of 2 members",
    });
    const elsewhere = await join("c", "other-room");
    await waitFor(() => face.memberCount("other-room") === 1);
    expect(elsewhere.pending).toBe(0);
  });

  it("closes a member that reads too slowly with 1013 EMLES_LAGGED, holding at most its ring", async () => {
    const { join, pubsub, face } = await start({ ring: 4, pingInterval: 0 });
    const slow = await join("slow", "flood");
    await waitFor(() => face.memberCount("flood") === 1);
    slow.ws.pause(); // stops reading its socket: the hub's writes back up
    const frame = new Uint8Array(64 * 1024);
    for (let i = 0; i < 300; i++) await pubsub.publish("flood", frame, "app");
    slow.ws.resume();
    const closed = await slow.closedWithin(20_000);
    expect(closed.code).toBe(1013);
    expect(closed.reason).toMatch(/^EMLES_LAGGED: this member read too slowly: \d+ frames dropped/);
    expect(pubsub.channels().find((channel) => channel.name === "flood")?.subscribers).toBe(0);
  }, 40_000);

  it("slows a member over maxFramesPerSecond without losing a frame, in order", async () => {
    const { join } = await start({ maxFramesPerSecond: 20 });
    const fast = await join("fast", "flood");
    const reader = await join("reader", "flood");
    await reader.texts(1); // fast's join frame
    const sent = Array.from({ length: 60 }, (_, i) => `frame ${i}`);
    for (const text of sent) fast.send(text);
    expect(await reader.texts(sent.length, 20_000)).toEqual(sent);
  }, 40_000);

  it("closes a member whose frame a stalled `wait` subscriber held past the publish timeout with 1013", async () => {
    const { join, pubsub } = await start({}, { publishTimeout: 200 });
    const stalled = pubsub.subscribe("held", "app", { lag: "wait", ring: 1, history: false });
    const alice = await join("alice", "held"); // her join frame fills the stalled window
    alice.send("this one waits, then fails");
    const closed = await alice.closedWithin();
    expect(closed.code).toBe(1013);
    expect(closed.reason).toMatch(/^EPUBLISH_TIMEOUT: publish to "held" timed out after 200 ms/);
    stalled.close();
  });

  it("closes every member with 1001 when the face closes", async () => {
    const { join, face } = await start();
    const alice = await join("alice", "example");
    await waitFor(() => face.memberCount() === 1);
    await face.close();
    expect((await alice.closedWithin()).code).toBe(1001);
    expect(face.connectionCount).toBe(0);
  });
});

async function waitFor(condition: () => boolean, timeout = 10_000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function within<T>(promise: Promise<T>, timeout = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`not within ${timeout} ms`)), timeout);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

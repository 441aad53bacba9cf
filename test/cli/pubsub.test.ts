// `beamhub pub`, `sub` and `channels` as a user runs them, against a real `beamhub serve` whose
// history is kept in a file: it is still there after the hub is stopped and started again.
import { mkdtemp, rm } from "node:fs/promises";
import { userInfo } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAccessRules } from "../../cli/access-rules.js";
import { connectUnix } from "../../hub/remote/connect-unix.js";
import { beamhub, startCli, within, type RunningCli } from "./helpers.js";

let dir: string;
let socket: string;
let file: string;
let server: RunningCli;

const serveArgs = (): string[] => [
  "serve",
  "--socket",
  socket,
  "--listen-https",
  "off",
  "--pubsub-file",
  file,
  "--pubsub-history",
  "5",
];

beforeAll(async () => {
  dir = await mkdtemp("/tmp/beamhub-cli-pubsub-");
  socket = join(dir, "hub.sock");
  file = join(dir, "pubsub.kvlog");
  server = await startCli(serveArgs(), /press Ctrl-C/);
}, 30_000);

afterAll(async () => {
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** Waits (bounded) for a `beamhub sub --count` to print its messages and exit. */
async function finished(sub: RunningCli): Promise<string> {
  await within(
    new Promise((resolve) => (sub.child.exitCode !== null ? resolve(null) : sub.child.once("exit", resolve))),
    15_000,
    "beamhub sub to exit",
  );
  expect(sub.child.exitCode, sub.stderr()).toBe(0);
  return sub.stdout();
}

describe("beamhub pub / sub / channels", () => {
  it("publishes an argument and stdin lines; a subscriber prints them tagged with the publisher", async () => {
    expect(server.stderr()).toMatch(
      /pub\/sub: history 5 messages .* kept in .*pubsub\.kvlog \(0 channels restored\)/,
    );
    const sub = await startCli(
      ["sub", "room", "--history", "--count", "3", "--json", "--socket", socket],
      /pid/,
    );
    const one = await beamhub(["pub", "room", '{"n":1}', "--socket", socket]);
    expect(one.code, one.stderr).toBe(0);
    expect(JSON.parse(one.stdout)).toMatchObject({ seq: 1, time: expect.any(Number) });
    const lines = await beamhub(["pub", "room", "-", "--socket", socket], { input: '{"n":2}\n\n"three"\n' });
    expect(lines.code, lines.stderr).toBe(0);
    expect(
      lines.stdout
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line).seq),
    ).toEqual([2, 3]);
    const printed = (await finished(sub))
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(printed.map((message) => [message.seq, message.data])).toEqual([
      [1, { n: 1 }],
      [2, { n: 2 }],
      [3, "three"],
    ]);
    // The hub tags by the kernel's credentials of the publishing process.
    expect(printed[0].from).toBe(`unix:${userInfo().username}`);
  });

  it("prints text lines, and publishes lines as strings with --text", async () => {
    const text = await beamhub(["pub", "notes", "-", "--text", "--socket", socket], {
      input: "hello there\n{not json}\n",
    });
    expect(text.code, text.stderr).toBe(0);
    const sub = await startCli(["sub", "notes", "--history", "--count", "2", "--socket", socket], /pid/);
    expect((await finished(sub)).trim().split("\n")).toEqual([
      `1 unix:${userInfo().username} hello there`,
      `2 unix:${userInfo().username} {not json}`,
    ]);
  });

  it("prints a byte-stream broadcast's message and releases its copy: a wait subscriber holds no one back", async () => {
    const sub = await startCli(
      ["sub", "firehose", "--lag", "wait", "--count", "1", "--socket", socket],
      /pid/,
    );
    const publisher = await connectUnix(socket, { reconnect: false });
    try {
      // The subscription is open at the hub once it counts a subscriber.
      await within(
        (async () => {
          for (;;) {
            const found = (await publisher.channels()).find((channel) => channel.name === "firehose");
            if (found !== undefined && found.subscribers > 0) return;
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
        })(),
        10_000,
        "the subscription at the hub",
      );
      const { stream } = await publisher.broadcast("firehose", { name: "dump" });
      const writer = stream.writable.getWriter();
      // 4 MiB: more than a stream window, so an unread copy would stop these writes.
      const written = (async () => {
        for (let chunk = 0; chunk < 64; chunk++) await writer.write(new Uint8Array(64 * 1024));
        await writer.close();
      })();
      await within(written, 8000, "the publisher's writes (a copy held them back?)");
      expect((await finished(sub)).trim()).toMatch(
        new RegExp(
          `^\\d+ unix:${userInfo().username} \\{"name":"dump"\\} \\(a byte-stream broadcast, not read\\)$`,
        ),
      );
    } finally {
      await publisher.close();
      await sub.stop();
    }
  });

  it("lists channels with subscribers, history, seq, rate and drops for slow subscribers", async () => {
    const table = await beamhub(["channels", "--socket", socket]);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^NAME\s+SUBSCRIBERS\s+HISTORY\s+BYTES\s+SEQ\s+RATE\/S\s+LAGGED$/m);
    expect(table.stdout).toMatch(/\nroom\s+0\s+3\s+\d+\s+3\s+[\d.]+\s+0$/m);
    const json = await beamhub(["channels", "--json", "--socket", socket]);
    expect(JSON.parse(json.stdout)).toContainEqual(
      expect.objectContaining({
        name: "room",
        subscribers: 0,
        seq: 3,
        lagged: 0,
        history: expect.objectContaining({ count: 3 }),
      }),
    );
  });

  it("keeps history across a restart of beamhub serve with --pubsub-file", async () => {
    await server.stop();
    server = await startCli(serveArgs(), /press Ctrl-C/);
    expect(server.stderr()).toMatch(/\(2 channels restored\)/);
    const sub = await startCli(
      ["sub", "room", "--history", "--count", "4", "--json", "--socket", socket],
      /pid/,
    );
    const next = await beamhub(["pub", "room", "4", "--socket", socket]);
    expect(JSON.parse(next.stdout).seq).toBe(4);
    const printed = (await finished(sub))
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line).data);
    expect(printed).toEqual([{ n: 1 }, { n: 2 }, "three", 4]);
  });

  it("refuses bad names, options and JSON as usage errors (exit 2)", async () => {
    const badName = await beamhub(["pub", "bad\u0007name", "1", "--socket", socket]);
    expect(badName.code).toBe(2);
    expect(badName.stderr).toMatch(/invalid pub\/sub channel name/);
    const badJson = await beamhub(["pub", "room", "{bad", "--socket", socket]);
    expect(badJson.code).toBe(2);
    expect(badJson.stderr).toMatch(/not valid JSON/);
    const badLag = await beamhub(["sub", "room", "--lag", "never", "--socket", socket]);
    expect(badLag.code).toBe(2);
    expect(badLag.stderr).toMatch(/--lag must be drop or wait/);
  });
});

describe("access rules for pub/sub", () => {
  it("grant publish and subscribe by channel pattern, separately from call and register", () => {
    const { rules } = parseAccessRules(
      [
        { who: "alice", subscribe: ["news.*"], publish: ["chat.{id}"] },
        { who: "bob", call: ["*"] },
      ],
      "access",
    );
    const alice = { id: "alice", via: "token" };
    const bob = { id: "bob", via: "token" };
    expect(rules.subscribe!(alice, "news.today")).toBe(true);
    expect(rules.subscribe!(alice, "chat.alice")).toBe(false);
    expect(rules.publish!(alice, "chat.alice")).toBe(true);
    expect(rules.publish!(alice, "chat.bob")).toBe(false);
    expect(rules.call!(alice, "news.today")).toBe(false);
    // A grant of services grants no channels.
    expect(rules.subscribe!(bob, "news.today")).toBe(false);
    expect(rules.publish!(undefined, "chat.x")).toBe(false);
    expect(() => parseAccessRules([{ who: "a" }], "access")).toThrow(/publish.*subscribe/);
  });
});

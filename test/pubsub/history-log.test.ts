/**
 * Pub/sub history kept in a kv log: it survives a hub killed with SIGKILL (a real process over
 * a real Unix socket), the log is compacted instead of growing without bound, a torn last
 * record is cut, and a second hub cannot write the same file.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { appendFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { connectUnix } from "../../hub/remote/connect-unix.js";
import { KvLogLockedError } from "../../kv/file-lock.js";
import { readKvLog } from "../../kv/log.js";
import { PubSub, PubSubLog, type PubSubMessage } from "../../pubsub/index.js";
import { within } from "../compliance/suite.js";
import { nodeArgs } from "../helpers/programs.js";

const FIXTURE = join(import.meta.dirname, "fixtures", "pubsub-hub.ts");
const dir = mkdtempSync(join(tmpdir(), "beamhub-pubsub-log-"));
const children: ChildProcess[] = [];

afterEach(() => {
  for (const child of children.splice(0)) child.kill("SIGKILL");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function startHub(file: string, socket: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...nodeArgs(FIXTURE), file, socket], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  await within(
    new Promise((resolve, reject) => {
      child.stdout!.once("data", resolve);
      child.once("exit", (code) => reject(new Error(`the hub exited with ${code}`)));
    }),
    20_000,
    "the hub to start",
  );
  return child;
}

async function kill(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGKILL");
  await exited;
}

async function readMessages(pubsub: PubSub, channel: string, count: number): Promise<PubSubMessage[]> {
  const subscription = pubsub.subscribe(channel, "reader");
  const items: PubSubMessage[] = [];
  for (let i = 0; i < count; i++) {
    const next = await within(subscription.next(), 5000, `message ${i}`);
    items.push(next.value as PubSubMessage);
  }
  subscription.close();
  return items;
}

describe("pub/sub history log", () => {
  it(
    "keeps every acknowledged publication across kill -9 of the hub process",
    { timeout: 60_000 },
    async () => {
      const file = join(dir, "killed.kvlog");
      const socket = join(dir, "hub.sock");
      const first = await startHub(file, socket);
      let client = await connectUnix(socket, { reconnect: false });
      const published = [];
      for (let i = 1; i <= 20; i++)
        published.push(await client.publish("room", { n: i, bytes: new Uint8Array([i]) }));
      await client.close();
      await kill(first);

      await startHub(file, socket);
      client = await connectUnix(socket, { reconnect: false });
      const subscription = client.subscribe("room");
      const got: PubSubMessage[] = [];
      for await (const item of subscription) {
        got.push(item as PubSubMessage);
        if (got.length === 20) break;
      }
      expect(got.map((message) => message.seq)).toEqual(published.map((result) => result.seq));
      expect(got.map((message) => message.time)).toEqual(published.map((result) => result.time));
      expect(got[4]!.data).toEqual({ n: 5, bytes: new Uint8Array([5]) });
      // Numbering goes on where it was.
      expect((await client.publish("room", "after")).seq).toBe(21);
      await client.close();
    },
  );

  it("restores history per channel with its limits, and numbering goes on", async () => {
    const file = join(dir, "restore.kvlog");
    let pubsub = new PubSub({ log: await PubSubLog.open(file), history: 3 });
    for (let i = 1; i <= 5; i++) await pubsub.publish("a", `a${i}`, "alice");
    await pubsub.publish("b", new Uint8Array([1, 2]), "bob");
    await pubsub.close();

    pubsub = new PubSub({ log: await PubSubLog.open(file), history: 3 });
    expect((await readMessages(pubsub, "a", 3)).map((m) => [m.seq, m.data, m.from])).toEqual([
      [3, "a3", "alice"],
      [4, "a4", "alice"],
      [5, "a5", "alice"],
    ]);
    expect((await readMessages(pubsub, "b", 1))[0]!.data).toEqual(new Uint8Array([1, 2]));
    expect((await pubsub.publish("a", "a6", "alice")).seq).toBe(6);
    await pubsub.close();
  });

  it("compacts the log to what history keeps", async () => {
    const file = join(dir, "compact.kvlog");
    const pubsub = new PubSub({ log: await PubSubLog.open(file), history: 10 });
    for (let i = 0; i < 3000; i++) await pubsub.publish(`c${i % 3}`, i, "p");
    await pubsub.close();
    const { records } = await readKvLog(file);
    expect(records.length).toBeLessThan(1100);
    const reopened = new PubSub({ log: await PubSubLog.open(file), history: 10 });
    expect(reopened.channels().map((channel) => [channel.name, channel.history.count, channel.seq])).toEqual([
      ["c0", 10, 1000],
      ["c1", 10, 1000],
      ["c2", 10, 1000],
    ]);
    await reopened.close();
  });

  it("cuts a torn last record and keeps the complete ones", async () => {
    const file = join(dir, "torn.kvlog");
    const pubsub = new PubSub({ log: await PubSubLog.open(file) });
    await pubsub.publish("t", "kept", "p");
    await pubsub.close();
    appendFileSync(file, "999:half a rec");
    const reopened = new PubSub({ log: await PubSubLog.open(file) });
    expect((await readMessages(reopened, "t", 1))[0]!.data).toBe("kept");
    await reopened.publish("t", "next", "p");
    await reopened.close();
    expect((await readKvLog(file)).records).toHaveLength(2);
  });

  it("refuses a second writer with ELOCKED and frees the file on close", async () => {
    const file = join(dir, "locked.kvlog");
    const log = await PubSubLog.open(file);
    const error = await PubSubLog.open(file).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(KvLogLockedError);
    expect((error as KvLogLockedError).code).toBe("ELOCKED");
    await log.close();
    await (await PubSubLog.open(file)).close();
  });

  it("fails a publish whose data cannot be kept, before anyone gets it", async () => {
    const pubsub = new PubSub({ log: await PubSubLog.open(join(dir, "bad.kvlog")) });
    const subscription = pubsub.subscribe("x", "s");
    await expect(pubsub.publish("x", { f: () => 1 }, "p")).rejects.toThrow();
    expect(pubsub.channels()[0]!.seq).toBe(0);
    subscription.close();
    await pubsub.close();
  });
});

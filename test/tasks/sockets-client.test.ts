/**
 * Samply's sockets from TypeScript: `TaskClient.socket`, `sockets()` and `accept()` over every
 * transport; a socket between the TypeScript API and an upgraded HTTP connection; acting as an
 * application by a mapped Unix identity instead of a key.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, connectUnix, Hub, listenHttps, listenUnix, type HttpsListener } from "../../index.js";
import type { HubClient } from "../../hub/types.js";
import type { ByteStream } from "../../model/byte-stream.js";
import { peerCredentialsAvailable } from "../../hub/remote/unix-identity.js";
import { SocketGoneError, TaskForbiddenError, TaskUnauthorizedError } from "../../tasks/errors.js";
import { listenTasksHttp, type TasksHttpListener } from "../../tasks/rest/listen-http.js";
import { TaskBroker } from "../../tasks/task-broker.js";
import { TaskClient } from "../../tasks/task-client.js";
import { serveTasks } from "../../tasks/task-service.js";
import { APP1, APP2, APP3, auth, KEYS } from "./helpers.js";
import { rawRequest, Received } from "./raw-http.js";

const dir = mkdtempSync(join(tmpdir(), "beamhub-task-sockets-"));
const me = userInfo();
let hub: Hub;
let broker: TaskBroker;
let https: HttpsListener;
let rest: TasksHttpListener;
let closeUnix: () => Promise<void>;
const sessions: { name: string; open: () => Promise<HubClient> }[] = [
  { name: "in one process", open: async () => hub.session() },
  { name: "over a Unix socket", open: () => connectUnix(join(dir, "hub.sock")) },
  { name: "over HTTP/2", open: () => connect(https.url, { ca: https.certificate, transport: "http2" }) },
  {
    name: "over a WebSocket",
    open: () => connect(https.url.replace("https:", "wss:"), { ca: https.certificate }),
  },
];

beforeAll(async () => {
  hub = new Hub();
  broker = await TaskBroker.open({
    id: "proxy1.broker",
    apiKeys: KEYS,
    identities: { app3: [`unix:${me.username}`], app2: [`unix:${me.uid}`] },
    limits: { socketTtlMs: 2_000 },
  });
  await serveTasks(hub.session(), broker);
  const unix = await listenUnix(hub, join(dir, "hub.sock"));
  closeUnix = () => unix.close();
  https = await listenHttps(hub);
  rest = await listenTasksHttp(broker);
});

afterAll(async () => {
  await rest.close();
  await https.close();
  await closeUnix();
  await broker.close();
  await hub.close();
  rmSync(dir, { recursive: true, force: true });
});

async function readAll(stream: ByteStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream.readable) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

async function send(stream: ByteStream, ...chunks: (string | Uint8Array)[]): Promise<void> {
  const writer = stream.writable.getWriter();
  for (const chunk of chunks)
    await writer.write(typeof chunk === "string" ? new TextEncoder().encode(chunk) : chunk);
  await writer.close();
}

async function settled(): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (broker.sockets.open > 0 || broker.sockets.pending > 0) {
    if (Date.now() > deadline)
      throw new Error(`sockets left: ${broker.sockets.open} open, ${broker.sockets.pending} waiting`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  for (const app of [APP1, APP2, APP3]) expect(broker.sockets.inUse(app)).toBe(0);
}

describe.each(sessions)("sockets from TypeScript, $name", ({ open }) => {
  it("asks, sees the request, accepts; bytes both ways with half-close; nothing left", async () => {
    const [one, two] = [await open(), await open()];
    const app1 = new TaskClient(one, { app: APP1, key: KEYS.app1 });
    const app2 = new TaskClient(two, { app: APP2, key: KEYS.app2 });
    const asking = app1.socket(APP2, { metadata: { purpose: "copy" } });
    const incoming = app2.sockets({ pollTime: 5_000 });
    const { value: task } = await incoming.next();
    expect(task).toMatchObject({ from: APP1, to: [APP2], metadata: { purpose: "copy" } });
    const theirs = await app2.accept(task!);
    const mine = await asking;

    const big = new Uint8Array(1024 * 1024).fill(3);
    const [, received] = await Promise.all([send(mine, "hello ", big), readAll(theirs)]);
    expect(received.length).toBe(6 + big.length);
    // app1 finished sending; app2 still answers (half-close), then both are closed.
    const [, answer] = await Promise.all([send(theirs, "bye"), readAll(mine)]);
    expect(answer.toString()).toBe("bye");
    await Promise.all([mine.closed, theirs.closed]);
    await incoming.return(undefined);
    await settled();
    await Promise.all([one.close(), two.close()]);
  });

  it("refuses others (403), tells a late sender 410, and a reset reaches the other side", async () => {
    const [one, two] = [await open(), await open()];
    const app1 = new TaskClient(one, { app: APP1, key: KEYS.app1 });
    const app2 = new TaskClient(two, { app: APP2, key: KEYS.app2 });
    const app3 = new TaskClient(two, { app: APP3, key: KEYS.app3 });
    await expect(app1.socket(APP2)).rejects.toBeInstanceOf(SocketGoneError); // nobody joins in 2 s
    const asking = app1.socket(APP2);
    const [task] = (await app2.socketTasks({ count: 1, timeMs: 5_000 })).items;
    await expect(app3.accept(task!.id)).rejects.toBeInstanceOf(TaskForbiddenError);
    const theirs = await app2.accept(task!.id);
    const mine = await asking;
    mine.reset();
    await theirs.closed;
    await expect(theirs.readable.getReader().read()).rejects.toThrow();
    await settled();
    await Promise.all([one.close(), two.close()]);
  });
});

describe("between the TypeScript API and an upgraded HTTP connection", () => {
  it("relays both ways", async () => {
    const app1 = new TaskClient(hub.session(), { app: APP1, key: KEYS.app1 });
    const asking = app1.socket(APP2);
    const list = await fetch(`http://127.0.0.1:${rest.port}/v1/sockets?wait_count=1&wait_time=5s`, {
      headers: auth(APP2),
      signal: AbortSignal.timeout(10_000),
    });
    const [task] = (await list.json()) as { id: string }[];
    const joined = await rawRequest(rest.port, "GET", `/v1/sockets/${task!.id}`, {
      ...auth(APP2),
      upgrade: "tcp",
    });
    expect(joined.status).toBe(101);
    const mine = await asking;
    const atHttp = new Received(joined.socket, joined.rest);
    await send(mine, "from TypeScript");
    await atHttp.end();
    expect(atHttp.bytes.toString()).toBe("from TypeScript");
    joined.socket.end("from HTTP");
    expect((await readAll(mine)).toString()).toBe("from HTTP");
    await atHttp.closed;
    await settled();
  });
});

describe.skipIf(!peerCredentialsAvailable())(
  "acting as an application by identity (Unix peer credentials)",
  () => {
    it("maps the Unix user to an app, by name or uid, without a key; others are 401", async () => {
      const session = await connectUnix(join(dir, "hub.sock"));
      const byName = new TaskClient(session, { app: APP3 });
      const byUid = new TaskClient(session, { app: APP2 });
      const task = await byName.post({ to: [APP2], body: "no key needed" });
      expect(task.from).toBe(APP3);
      const { items } = await byUid.tasks({ todo: true });
      expect(items.map((t) => t.id)).toContain(task.id);
      await expect(new TaskClient(session, { app: APP1 }).tasks({ todo: true })).rejects.toBeInstanceOf(
        TaskUnauthorizedError,
      );
      // The hub's own in-process session has no identity: nothing to map.
      await expect(new TaskClient(hub.session(), { app: APP3 }).tasks({ todo: true })).rejects.toBeInstanceOf(
        TaskUnauthorizedError,
      );
      // And a socket by identity on both sides.
      const asking = byName.socket(APP2);
      const [socketTask] = (await byUid.socketTasks({ count: 1, timeMs: 5_000 })).items;
      const theirs = await byUid.accept(socketTask!);
      const mine = await asking;
      await Promise.all([send(mine, "ok"), send(theirs)]);
      expect((await readAll(theirs)).toString()).toBe("ok");
      await settled();
      await session.close();
    });
  },
);

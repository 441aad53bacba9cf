/**
 * The same task pattern from TypeScript, through a hub service, over every transport: in one
 * process, over a real Unix socket, HTTP/2 and a WebSocket, with the REST face's rules.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, connectUnix, Hub, listenHttps, listenUnix, type HttpsListener } from "../../index.js";
import type { HubClient } from "../../hub/types.js";
import {
  TaskForbiddenError,
  TaskNotFoundError,
  TaskUnauthorizedError,
  UnreachableRecipientsError,
} from "../../tasks/errors.js";
import { TaskBroker } from "../../tasks/task-broker.js";
import { TaskClient } from "../../tasks/task-client.js";
import { serveTasks } from "../../tasks/task-service.js";
import { APP1, APP2, APP3, KEYS } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "beamhub-task-client-"));
let hub: Hub;
let broker: TaskBroker;
let closeListener: () => Promise<void>;
let https: HttpsListener;
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
  broker = await TaskBroker.open({ id: "proxy1.broker", apiKeys: KEYS });
  await serveTasks(hub.session(), broker);
  const listener = await listenUnix(hub, join(dir, "hub.sock"));
  https = await listenHttps(hub);
  closeListener = async () => {
    await https.close();
    await listener.close();
  };
});

afterAll(async () => {
  await closeListener();
  await broker.close();
  await hub.close();
  rmSync(dir, { recursive: true, force: true });
});

describe.each(sessions)("tasks from TypeScript, $name", ({ open }) => {
  it("posts, lists to do, claims, answers, and waits for the result", async () => {
    const [one, two] = [await open(), await open()];
    const app1 = new TaskClient(one, { app: APP1, key: KEYS.app1 });
    const app2 = new TaskClient(two, { app: APP2, key: KEYS.app2 });
    const task = await app1.post({ to: [APP2], body: "6 × 7?", ttl: "30s", metadata: { lang: "en" } });
    expect(task).toMatchObject({ from: APP1, to: [APP2], body: "6 × 7?", failure_strategy: "discard" });

    const waiting = app1.results(task.id, { count: 1, timeMs: 5000 });
    const todo = app2.todo({ pollTime: 2000 });
    let first = (await todo.next()).value!;
    while (first.id !== task.id) first = (await todo.next()).value!; // skip what other tests left to do
    expect(await app2.claim(first)).toBe("created");
    expect(await app2.answer(first, { status: "succeeded", body: "42" })).toBe("updated");
    const answer = await waiting;
    expect(answer).toMatchObject({
      partial: false,
      items: [{ from: APP2, status: "succeeded", body: "42" }],
    });
    await todo.return(undefined);
    await Promise.all([one.close(), two.close()]);
  });

  it("fails with the task error classes", async () => {
    const session = await open();
    const app1 = new TaskClient(session, { app: APP1, key: KEYS.app1 });
    await expect(
      new TaskClient(session, { app: APP1, key: "wrong" }).tasks({ todo: true }),
    ).rejects.toBeInstanceOf(TaskUnauthorizedError);
    await expect(app1.task(crypto.randomUUID())).rejects.toBeInstanceOf(TaskNotFoundError);
    await expect(app1.tasks({ from: APP2 })).rejects.toBeInstanceOf(TaskForbiddenError);
    const unreachable = await app1.post({ to: ["app1.proxy2.broker"] }).catch((error: unknown) => error);
    expect(unreachable).toBeInstanceOf(UnreachableRecipientsError);
    expect((unreachable as UnreachableRecipientsError).hubs).toEqual(["proxy2.broker"]);
    const task = await app1.post({ to: [APP2] });
    const app3 = new TaskClient(session, { app: APP3, key: KEYS.app3 });
    await expect(app3.answer(task, { status: "claimed" })).rejects.toBeInstanceOf(TaskForbiddenError);
    await session.close();
  });
});

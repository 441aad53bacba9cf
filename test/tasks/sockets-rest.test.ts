/**
 * Samply's sockets on the REST face, over real HTTP: the statuses of `/v1/sockets`, and bytes
 * both ways through two upgraded connections (with and without `Connection: upgrade`), with
 * half-close, resets and nothing left open.
 */
import { execFile, execFileSync } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Hub, listenHttps, type HttpsListener } from "../../index.js";
import { listenTasksHttp, type TasksHttpListener } from "../../tasks/rest/listen-http.js";
import { taskUpgradeListener } from "../../tasks/rest/socket-routes.js";
import { taskRequestListener } from "../../tasks/rest/task-routes.js";
import { TaskBroker } from "../../tasks/task-broker.js";
import { APP1, APP2, APP3, auth, KEYS, RestClient } from "./helpers.js";
import type { Socket } from "node:net";
import { openRaw, rawRequest, Received, type RawAnswer } from "./raw-http.js";

const run = promisify(execFile);
let broker: TaskBroker;
let http: TasksHttpListener;
let rest: RestClient;

beforeAll(async () => {
  broker = await TaskBroker.open({ id: "proxy1.broker", apiKeys: KEYS, limits: { maxSocketsPerApp: 3 } });
  http = await listenTasksHttp(broker);
  rest = new RestClient(`http://127.0.0.1:${http.port}`);
});

afterAll(async () => {
  await http.close();
  await broker.close();
});

/** Ids of socket tasks already given to a test (the list shows every waiting one). */
const handedOut = new Set<string>();

/** app1 asks for a socket to `to`; resolves with the socket's id once app2's list shows it. */
async function request(
  to = APP2,
  headers: Record<string, string> = {},
): Promise<{ id: string; answer: Promise<RawAnswer>; metadata: unknown; socket: Socket }> {
  const before = broker.sockets.pending;
  const { socket, answer } = openRaw(http.port, "POST", `/v1/sockets/${to}`, {
    ...auth(APP1),
    upgrade: "tcp",
    ...headers,
  });
  answer.catch(() => undefined);
  const listed = await rest.request("GET", `/v1/sockets?wait_count=${before + 1}&wait_time=10s`, to);
  expect(listed.status).toBe(200);
  const tasks = listed.json() as { id: string; from: string; to: string[]; ttl: string; metadata: unknown }[];
  const task = tasks.find((t) => t.from === APP1 && !handedOut.has(t.id))!;
  handedOut.add(task.id);
  expect(task).toMatchObject({ from: APP1, to: [to] });
  expect(Number(task.ttl)).toBeGreaterThan(0);
  return { id: task.id, answer, metadata: task.metadata, socket };
}

async function curl(...args: string[]): Promise<{ status: number; body: string }> {
  const { stdout } = await run("curl", ["-s", "-m", "10", "-w", "\n%{http_code}", ...args], {
    timeout: 15_000,
  });
  const cut = stdout.lastIndexOf("\n");
  return { status: Number(stdout.slice(cut + 1)), body: stdout.slice(0, cut) };
}

/** Descriptors this process holds (Linux). */
function openFds(): number {
  return readdirSync("/proc/self/fd").length;
}

async function until(test: () => boolean, what: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(what());
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function settled(): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (broker.sockets.open > 0 || broker.sockets.pending > 0 || broker.waiting > 0) {
    if (Date.now() > deadline) throw new Error("sockets or waiters were left open");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  for (const app of [APP1, APP2, APP3]) expect(broker.sockets.inUse(app)).toBe(0);
}

describe("/v1/sockets statuses", () => {
  const base = (): string => `http://127.0.0.1:${http.port}`;

  it("426 without an Upgrade header, 401 without credentials, 405 for other methods", async () => {
    expect(
      (
        await curl(
          "-X",
          "POST",
          "-H",
          `authorization: ApiKey ${APP1} ${KEYS.app1}`,
          `${base()}/v1/sockets/${APP2}`,
        )
      ).status,
    ).toBe(426);
    expect((await curl("-X", "POST", "-H", "upgrade: tcp", `${base()}/v1/sockets/${APP2}`)).status).toBe(401);
    const get = await rest.request("GET", `/v1/sockets/${crypto.randomUUID()}`, APP2);
    expect(get.status).toBe(426);
    expect((await rest.request("PUT", `/v1/sockets/${APP2}`, APP1)).status).toBe(405);
    expect((await rest.request("POST", "/v1/sockets", APP1)).status).toBe(405);
  });

  it("400 for a malformed recipient, id or metadata; 424 for another hub; 404 for an unknown id", async () => {
    const upgrade = (app: string): string[] => [
      "-H",
      "upgrade: tcp",
      "-H",
      `authorization: ApiKey ${app} ${KEYS.app1}`,
    ];
    expect((await curl("-X", "POST", ...upgrade(APP1), `${base()}/v1/sockets/not..an.id`)).status).toBe(400);
    expect((await curl("-X", "POST", ...upgrade(APP1), `${base()}/v1/sockets/proxy1.broker`)).status).toBe(
      400,
    );
    expect(
      (await curl("-X", "POST", ...upgrade(APP1), "-H", "metadata: {oops", `${base()}/v1/sockets/${APP2}`))
        .status,
    ).toBe(400);
    const elsewhere = await curl("-X", "POST", ...upgrade(APP1), `${base()}/v1/sockets/app2.proxy2.broker`);
    expect(elsewhere).toEqual({ status: 424, body: '["proxy2.broker"]' });
    expect((await curl(...upgrade(APP2), `${base()}/v1/sockets/not-a-uuid`)).status).toBe(400);
    expect((await curl(...upgrade(APP2), `${base()}/v1/sockets/%E0%A4%A`)).status).toBe(400);
    expect((await curl(...upgrade(APP2), `${base()}/v1/sockets/${crypto.randomUUID()}`)).status).toBe(404);
    await settled();
  });

  it("lists with a long poll: 200 with what is there, 206 when fewer than wait_count came", async () => {
    const empty = await rest.request("GET", "/v1/sockets?wait_count=1&wait_time=50ms", APP3);
    expect(empty.status).toBe(206);
    expect(empty.json()).toEqual([]);
    const now = await rest.request("GET", "/v1/sockets?wait_time=0", APP3);
    expect(now.status).toBe(200);
    expect((await rest.request("GET", "/v1/sockets", undefined)).status).toBe(401);
  });

  it("403 for anyone but the recipient (the sender too), then the recipient joins", async () => {
    const { id, answer, metadata } = await request(APP2, { metadata: '{"purpose":"test"}' });
    expect(metadata).toEqual({ purpose: "test" });
    for (const app of [APP3, APP1]) {
      const refused = await rawRequest(http.port, "GET", `/v1/sockets/${id}`, {
        ...auth(app),
        upgrade: "tcp",
      });
      expect(refused.status).toBe(403);
      refused.socket.destroy();
    }
    const joined = await rawRequest(http.port, "GET", `/v1/sockets/${id}`, { ...auth(APP2), upgrade: "tcp" });
    expect(joined.status).toBe(101);
    expect(joined.headers.upgrade).toBe("tcp");
    const sender = await answer;
    expect(sender.status).toBe(101);
    // Joined: the id is used up.
    expect(
      (
        await curl(
          "-H",
          "upgrade: tcp",
          "-H",
          `authorization: ApiKey ${APP2} ${KEYS.app2}`,
          `${base()}/v1/sockets/${id}`,
        )
      ).status,
    ).toBe(404);
    sender.socket.destroy();
    joined.socket.destroy();
    await settled();
  });

  it("429 past the sockets one application may take part in", async () => {
    const waiting = [await request(), await request(), await request()];
    const over = await rawRequest(http.port, "POST", `/v1/sockets/${APP2}`, {
      ...auth(APP1),
      upgrade: "tcp",
    });
    expect(over.status).toBe(429);
    over.socket.destroy();
    // The senders go away (one closes, one resets, one sends a FIN only): their tasks are
    // withdrawn at once and a late join is told so.
    waiting[0]!.socket.destroy();
    waiting[1]!.socket.resetAndDestroy();
    waiting[2]!.socket.end();
    const { id } = waiting[0]!;
    await settled();
    waiting[2]!.socket.destroy();
    const late = await rawRequest(http.port, "GET", `/v1/sockets/${id}`, { ...auth(APP2), upgrade: "tcp" });
    expect(late.status).toBe(410);
    late.socket.destroy();
  });
});

describe("bytes through a socket", () => {
  for (const connection of [{}, { connection: "upgrade" }] as Record<string, string>[]) {
    const how =
      connection.connection === undefined ? "Upgrade alone (Samply's example)" : "Connection: upgrade";
    it(`flow both ways, half-close carries over, both close (${how})`, async () => {
      const { id, answer } = await request(APP2, connection);
      const joined = await rawRequest(http.port, "GET", `/v1/sockets/${id}`, {
        ...auth(APP2),
        upgrade: "tcp",
        ...connection,
      });
      const sender = await answer;
      expect([sender.status, joined.status]).toEqual([101, 101]);
      const atSender = new Received(sender.socket, sender.rest);
      const atRecipient = new Received(joined.socket, joined.rest);

      const big = Buffer.alloc(3 * 1024 * 1024, 7);
      sender.socket.write("hello from app1");
      sender.socket.end(big); // half-close: app2 can still answer
      await atRecipient.end();
      expect(atRecipient.bytes.length).toBe(15 + big.length);
      expect(atRecipient.bytes.subarray(0, 15).toString()).toBe("hello from app1");

      joined.socket.end("and back from app2");
      await atSender.end();
      expect(atSender.bytes.toString()).toBe("and back from app2");
      await Promise.all([atSender.closed, atRecipient.closed]);
      await settled();
    });
  }

  it("closing one side closes the other, and every descriptor is given back", async () => {
    // No fetch here: its keep-alive pool would hold descriptors of its own.
    const fds = openFds();
    const before = broker.sockets.pending;
    const { answer } = openRaw(http.port, "POST", `/v1/sockets/${APP2}`, { ...auth(APP1), upgrade: "tcp" });
    const { id } = (await broker.sockets.list(APP2, { count: before + 1, timeMs: 10_000 })).items.find(
      (task) => !handedOut.has(task.id),
    )!;
    handedOut.add(id);
    const joined = await rawRequest(http.port, "GET", `/v1/sockets/${id}`, { ...auth(APP2), upgrade: "tcp" });
    const sender = await answer;
    const atSender = new Received(sender.socket, sender.rest);
    const atRecipient = new Received(joined.socket, joined.rest);
    joined.socket.write("x");
    await atSender.atLeast(1);
    joined.socket.resetAndDestroy();
    await atSender.closed;
    await atRecipient.closed;
    await settled();
    // Both clients' and both relayed server sockets are closed.
    await until(
      () => openFds() <= fds,
      () => `open descriptors: ${openFds()}, before: ${fds}`,
    );
  });
});

describe("on the hub's https listener (HTTP/1.1 over TLS)", () => {
  let hub: Hub;
  let https: HttpsListener;
  beforeAll(async () => {
    hub = new Hub();
    https = await listenHttps(hub, {
      otherRequests: taskRequestListener(broker),
      otherUpgrades: taskUpgradeListener(broker),
    });
  });
  afterAll(async () => {
    await https.close();
    await hub.close();
  });

  for (const connection of [{}, { connection: "upgrade" }] as Record<string, string>[]) {
    it(`relays both ways (${connection.connection === undefined ? "Upgrade alone" : "Connection: upgrade"})`, async () => {
      const tls = { ca: https.certificate };
      const before = broker.sockets.pending;
      const asking = openRaw(
        https.port,
        "POST",
        `/v1/sockets/${APP2}`,
        { ...auth(APP1), upgrade: "tcp", ...connection },
        10_000,
        tls,
      );
      const [task] = (await broker.sockets.list(APP2, { count: before + 1, timeMs: 10_000 })).items.filter(
        (t) => !handedOut.has(t.id),
      );
      handedOut.add(task!.id);
      const joined = await openRaw(
        https.port,
        "GET",
        `/v1/sockets/${task!.id}`,
        { ...auth(APP2), upgrade: "tcp", ...connection },
        10_000,
        tls,
      ).answer;
      const sender = await asking.answer;
      expect([sender.status, joined.status]).toEqual([101, 101]);
      const atRecipient = new Received(joined.socket, joined.rest);
      const atSender = new Received(sender.socket, sender.rest);
      sender.socket.end("over TLS");
      await atRecipient.end();
      expect(atRecipient.bytes.toString()).toBe("over TLS");
      joined.socket.end("and back");
      await atSender.end();
      expect(atSender.bytes.toString()).toBe("and back");
      await settled();
    });
  }

  it("426 over HTTP/2, which cannot upgrade; the list works there", async () => {
    const ca = join(tmpdir(), `beamhub-sockets-ca-${process.pid}.pem`);
    writeFileSync(ca, https.certificate);
    try {
      const base = `https://127.0.0.1:${https.port}`;
      const post = await curl(
        "--http2",
        "--cacert",
        ca,
        "-X",
        "POST",
        "-H",
        "upgrade: tcp",
        "-H",
        `authorization: ApiKey ${APP1} ${KEYS.app1}`,
        `${base}/v1/sockets/${APP2}`,
      );
      expect(post.status).toBe(426);
      const list = await curl(
        "--http2",
        "--cacert",
        ca,
        "-H",
        `authorization: ApiKey ${APP2} ${KEYS.app2}`,
        `${base}/v1/sockets?wait_time=0`,
      );
      expect(list).toEqual({ status: 200, body: "[]" });
    } finally {
      rmSync(ca, { force: true });
    }
  });
});

describe("a socket nobody joins", () => {
  let short: TaskBroker;
  let shortHttp: TasksHttpListener;
  beforeAll(async () => {
    short = await TaskBroker.open({ id: "proxy1.broker", apiKeys: KEYS, limits: { socketTtlMs: 300 } });
    shortHttp = await listenTasksHttp(short);
  });
  afterAll(async () => {
    await shortHttp.close();
    await short.close();
  });

  it("answers 410 to the sender after the ttl, and 410 to a late join", async () => {
    const sender = rawRequest(shortHttp.port, "POST", `/v1/sockets/${APP2}`, {
      ...auth(APP1),
      upgrade: "tcp",
    });
    const listed = await new RestClient(`http://127.0.0.1:${shortHttp.port}`).request(
      "GET",
      "/v1/sockets",
      APP2,
    );
    const [task] = listed.json() as { id: string }[];
    const gone = await sender;
    expect(gone.status).toBe(410);
    gone.socket.destroy();
    const late = await rawRequest(shortHttp.port, "GET", `/v1/sockets/${task!.id}`, {
      ...auth(APP2),
      upgrade: "tcp",
    });
    expect(late.status).toBe(410);
    late.socket.destroy();
    expect(short.sockets.pending).toBe(0);
    expect(short.sockets.inUse(APP1)).toBe(0);
  });
});

describe.skipIf(!hasPythonRequests())("Samply's own example (Python requests)", () => {
  it("runs unchanged against the hub", { timeout: 60_000 }, async () => {
    const script = join(import.meta.dirname, "fixtures/samply-sockets-example.py");
    const { stdout } = await run("python3", [script, `http://127.0.0.1:${http.port}`], { timeout: 40_000 });
    expect(stdout.trim()).toBe("ok");
    await settled();
  });
});

function hasPythonRequests(): boolean {
  try {
    execFileSync("python3", ["-c", "import requests"], { stdio: "ignore", timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

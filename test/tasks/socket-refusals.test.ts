// Samply's socket upgrades refused for who asks, as structured reports (`onRefused` of
// `taskUpgradeListener`, what `serve` logs as https.refused with face "task-sockets"), over a
// real HTTP server and raw connections: a wrong key (401) and an application joining a socket
// meant for another (403, as that application); never the key, never the query. The requests
// send `Connection: upgrade`, so that node:http hands them to the upgrade listener (without it
// they are plain requests, which the https listener's own refusal reports cover).
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HttpsRefusal } from "../../index.js";
import { taskUpgradeListener } from "../../tasks/rest/socket-routes.js";
import { taskRequestListener } from "../../tasks/rest/task-routes.js";
import { TaskBroker } from "../../tasks/task-broker.js";
import { until } from "../helpers/until.js";
import { APP1, APP2, APP3, auth, KEYS, RestClient } from "./helpers.js";
import { openRaw, rawRequest } from "./raw-http.js";

let broker: TaskBroker;
let server: Server;
let port: number;
const reports: HttpsRefusal[] = [];
const sockets = new Set<Socket>();

beforeAll(async () => {
  broker = await TaskBroker.open({ id: "proxy1.broker", apiKeys: KEYS });
  server = createServer(taskRequestListener(broker));
  const upgrade = taskUpgradeListener(broker, { onRefused: (refusal) => reports.push(refusal) });
  server.on("upgrade", (request: IncomingMessage, socket: Socket, head: Buffer) => {
    if (!upgrade(request, socket, head)) socket.destroy();
  });
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as { port: number }).port;
});

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise((resolve) => server?.close(resolve));
  await broker?.close();
});

const reported = (n: number): Promise<void> => until(() => reports.length >= n, 5000, `${n} refusal reports`);

describe("task socket upgrades refused", () => {
  it("reports a wrong key (401) without the key, and a join by the wrong application (403) as it", async () => {
    const wrongKey = "NotTheKey-1f0e3dad";
    const refused = await rawRequest(port, "POST", `/v1/sockets/${APP2}?note=x`, {
      connection: "upgrade",
      upgrade: "tcp",
      authorization: `ApiKey ${APP1} ${wrongKey}`,
    });
    expect(refused.status).toBe(401);
    await reported(1);
    expect(reports[0]).toEqual({
      status: 401,
      code: "EUNAUTHORIZED",
      reason: "Unauthorized",
      method: "POST",
      path: `/v1/sockets/${APP2}`,
      address: "127.0.0.1",
      transport: "upgrade",
      face: "task-sockets",
      suppressed: 0,
    });

    // app1 asks for a socket to app2; app3 tries to take it.
    const { answer } = openRaw(port, "POST", `/v1/sockets/${APP2}`, {
      ...auth(APP1),
      connection: "upgrade",
      upgrade: "tcp",
    });
    answer.catch(() => undefined);
    const rest = new RestClient(`http://127.0.0.1:${port}`);
    const listed = await rest.request("GET", "/v1/sockets?wait_count=1&wait_time=10s", APP2);
    const [task] = listed.json() as { id: string }[];
    const stolen = await rawRequest(port, "GET", `/v1/sockets/${task!.id}`, {
      ...auth(APP3),
      connection: "upgrade",
      upgrade: "tcp",
    });
    expect(stolen.status).toBe(403);
    await reported(2);
    expect(reports[1]).toMatchObject({
      status: 403,
      code: "EFORBIDDEN",
      reason: "Not allowed to join this socket",
      method: "GET",
      identity: APP3,
      transport: "upgrade",
      face: "task-sockets",
    });
    const text = JSON.stringify(reports);
    for (const secret of [wrongKey, KEYS.app1, KEYS.app3, "note=x"]) expect(text).not.toContain(secret);
  });
});

describe("task socket upgrades over a limit", () => {
  it("reports the 429 of a full hub as the application, with the limit as the reason", async () => {
    const limited = await TaskBroker.open({
      id: "proxy1.broker",
      apiKeys: KEYS,
      limits: { maxPendingSockets: 1 },
    });
    const limitedReports: HttpsRefusal[] = [];
    const upgrade = taskUpgradeListener(limited, { onRefused: (refusal) => limitedReports.push(refusal) });
    const limitedServer = createServer(taskRequestListener(limited));
    const opened = new Set<Socket>();
    limitedServer.on("upgrade", (request: IncomingMessage, socket: Socket, head: Buffer) => {
      if (!upgrade(request, socket, head)) socket.destroy();
    });
    limitedServer.on("connection", (socket: Socket) => opened.add(socket));
    await new Promise<void>((resolve) => limitedServer.listen(0, "127.0.0.1", resolve));
    const limitedPort = (limitedServer.address() as { port: number }).port;
    try {
      const headers = { ...auth(APP1), connection: "upgrade", upgrade: "tcp" };
      // The first socket waits for app2 to join; the second finds the hub full.
      openRaw(limitedPort, "POST", `/v1/sockets/${APP2}`, headers).answer.catch(() => undefined);
      await until(() => limited.sockets.pending >= 1, 5000, "the first socket pending");
      const refused = await rawRequest(limitedPort, "POST", `/v1/sockets/${APP2}`, headers);
      expect(refused.status).toBe(429);
      await until(() => limitedReports.length >= 1, 5000, "the over-limit report");
      expect(limitedReports[0]).toEqual({
        status: 429,
        code: "ELIMIT",
        reason: "1 sockets are waiting to be joined",
        method: "POST",
        path: `/v1/sockets/${APP2}`,
        address: "127.0.0.1",
        identity: APP1,
        transport: "upgrade",
        face: "task-sockets",
        suppressed: 0,
      });
      expect(JSON.stringify(limitedReports)).not.toContain(KEYS.app1);
    } finally {
      for (const socket of opened) socket.destroy();
      await new Promise((resolve) => limitedServer.close(resolve));
      await limited.close();
    }
  });
});

// Hub operations with hostile arguments, sent by a peer over a real session to a real
// `beamhub serve` process (Unix and HTTPS). Every one must be refused with a typed error before
// the hub sets anything up; the session that sent them, the sessions beside it and the process
// must all keep working. Before the checks, a call whose timeout arrived as a CBOR 64-bit integer
// (a bigint here) started tracking itself, threw, and killed the process when its session closed.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectUnix } from "../../hub/remote/unix.js";
import { connectHttps } from "../../index.js";
import type { RemoteHub } from "../../hub/remote/remote-hub.js";
import { startServe, within, type RunningCli } from "../cli/helpers.js";

let dir: string;
let server: RunningCli & { httpsUrl: string };
let socket: string;
let ca: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-hostile-"));
  socket = join(dir, "hub.sock");
  server = await startServe(socket, join(dir, "cert"));
  ca = await readFile(join(dir, "cert", "cert.pem"), "utf8");
});

afterAll(async () => {
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** Hostile requests on the root channel, with the error code each must get. */
const HOSTILE: [string, unknown, string][] = [
  [
    "a bigint timeout (CBOR 64-bit)",
    { op: "call", name: "nobody", data: 1, options: { timeout: 5000n, waitForService: 50 } },
    "OK_OR_NOT_FOUND",
  ],
  [
    "a negative timeout",
    { op: "call", name: "nobody", data: 1, options: { timeout: -1, waitForService: 50 } },
    "EINVALID_ARGUMENT",
  ],
  [
    "a bigint waitForService",
    { op: "call", name: "nobody", data: 1, options: { waitForService: 30n } },
    "ESERVICE_NOT_FOUND",
  ],
  [
    "a signal that is an object",
    { op: "call", name: "nobody", data: 1, options: { signal: {}, waitForService: 50 } },
    "EINVALID_ARGUMENT",
  ],
  [
    "a cancelWith that is an object",
    { op: "call", name: "nobody", data: 1, options: { cancelWith: { onCancel: 1 }, waitForService: 50 } },
    "EINVALID_ARGUMENT",
  ],
  [
    "a bigint label",
    { op: "call", name: "nobody", data: 1, options: { labels: { a: 5n }, waitForService: 50 } },
    "EINVALID_NAME",
  ],
  [
    "labels that are a list",
    { op: "call", name: "nobody", data: 1, options: { labels: ["a"] } },
    "EINVALID_NAME",
  ],
  [
    "a name that is an object",
    { op: "call", name: { toString: 1 }, data: 1, options: { waitForService: true } },
    "EINVALID_NAME",
  ],
  [
    "a name that is a bigint",
    { op: "call", name: 7n, data: 1, options: { waitForService: 100 } },
    "EINVALID_NAME",
  ],
  [
    "an invalid name with waitForService",
    { op: "call", name: "bad name!", data: 1, options: { waitForService: true } },
    "EINVALID_NAME",
  ],
  [
    "an instance that is an object",
    { op: "call", name: "nobody", data: 1, options: { instance: {}, waitForService: 50 } },
    "EINVALID_ARGUMENT",
  ],
  ["options that are a number", { op: "call", name: "nobody", data: 1, options: 5 }, "EINVALID_ARGUMENT"],
  [
    "a huge timeout (clamped, not spinning)",
    { op: "call", name: "nobody", data: 1, options: { timeout: 3e9, waitForService: 50 } },
    "ESERVICE_NOT_FOUND",
  ],
  ["a watch filter that is a string", { op: "watch", filter: "abc", events: null }, "EINVALID_ARGUMENT"],
  ["a watch with events that are not a channel", { op: "watch", filter: {}, events: 5 }, "EINVALID_ARGUMENT"],
  [
    "a watch filter with a bigint label",
    { op: "watch", filter: { labels: { a: 1n } }, events: 5 },
    "EINVALID_ARGUMENT",
  ],
  ["a list filter with a numeric prefix", { op: "list", filter: { prefix: 5 } }, "EINVALID_ARGUMENT"],
  ["a list filter that is a list", { op: "list", filter: [1] }, "EINVALID_ARGUMENT"],
  ["a lookup of a bigint name", { op: "lookup", name: 5n }, "EINVALID_NAME"],
  ["a lookup with labels that are a string", { op: "lookup", name: "x", labels: "a=b" }, "EINVALID_NAME"],
  [
    "a register whose handler is not a channel",
    { op: "register", name: "zombie", handler: 7 },
    "EINVALID_ARGUMENT",
  ],
  ["an unregister of an object id", { op: "unregister", id: {} }, "EINVALID_ARGUMENT"],
  ["an unknown operation", { op: "explode" }, "EINVALID_ARGUMENT"],
  ["a request that is a number", 42, "EINVALID_ARGUMENT"],
  ["a request that is null", null, "EINVALID_ARGUMENT"],
];

async function expectRefused(remote: RemoteHub, request: unknown, code: string): Promise<void> {
  const outcome = await within(
    remote.connection.root.request(request).then(
      (value) => ({ ok: true as const, value }),
      (error: { code?: string; message?: string }) => ({ ok: false as const, error }),
    ),
    5000,
    "the hub to answer",
  );
  if (code === "OK_OR_NOT_FOUND") {
    // A bigint timeout is an integer like any other: accepted, the call then finds nobody.
    expect(outcome.ok ? "answered" : outcome.error.code).toBe("ESERVICE_NOT_FOUND");
    return;
  }
  expect(outcome.ok, `expected ${code}, got ${JSON.stringify(outcome)}`).toBe(false);
  if (!outcome.ok) expect(outcome.error.code).toBe(code);
}

const transports = [
  ["unix", () => connectUnix(socket)],
  ["https", () => connectHttps(server.httpsUrl, { ca })],
  ["websocket", () => connectHttps(server.httpsUrl, { ca, transport: "websocket" })],
] as const;

describe.each(transports)("hostile hub operations over %s", (_name, connect) => {
  it("are refused with typed errors; the hub, the session and its neighbours keep working", async () => {
    const bystander = await connect();
    const attacker = await connect();
    try {
      await bystander.register("bystander.echo", (data: unknown) => data);
      for (const [what, request, code] of HOSTILE) {
        await expectRefused(attacker, request, code).catch((error: Error) => {
          throw new Error(`${what}: ${error.message}`);
        });
      }
      // Registration is all or nothing: the refused register left no instance behind.
      expect(await attacker.lookup("zombie")).toEqual([]);
      // The reserved namespace: nobody but the hub answers hub.*.
      await expect(attacker.register("hub.info", () => "fake")).rejects.toMatchObject({ code: "EFORBIDDEN" });
      await expect(attacker.register("hub", () => "fake")).rejects.toMatchObject({ code: "EFORBIDDEN" });
      expect((await attacker.lookup("hub.info")).length).toBe(1);
      // The attacker's own session still works.
      expect(await attacker.call("bystander.echo", "after")).toBe("after");
    } finally {
      // Closing the attacker's session is what used to reject its broken calls unhandled.
      await attacker.close();
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await bystander.call("bystander.echo", "still")).toBe("still");
    await bystander.close();
    const fresh = await connect();
    expect(await fresh.call("hub.info")).toMatchObject({ pid: server.child.pid });
    await fresh.close();
    expect(server.child.exitCode).toBeNull();
    expect(server.stderr()).not.toMatch(/internal error|Unhandled|TimeoutOverflowWarning/);
  });
});

// The hub's process dies mid-session (kill -9): pending calls fail at once with a typed error,
// the session reports itself closed, and a new connectHttps reaches the restarted hub. (With
// reconnection off: test/reconnect/ covers the client reconnecting by itself.)
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClosedError, connectHttps, Hub, listenHttps, RequestInterruptedError } from "../../index.js";
import { within } from "./helpers.js";
import { nodeArgs } from "../helpers/programs.js";

let dir: string;
const children = new Set<ChildProcess>();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-restart-"));
});

afterAll(async () => {
  for (const child of children) child.kill("SIGKILL");
  await rm(dir, { recursive: true, force: true });
});

/** Starts the hub process; resolves with its URL once it listens. */
async function startHubProcess(port = 0): Promise<{ child: ChildProcess; url: string; port: number }> {
  const child = spawn(
    process.execPath,
    [...nodeArgs(join(import.meta.dirname, "fixtures", "hub-server.ts")), dir, String(port)],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  children.add(child);
  child.once("exit", () => children.delete(child));
  const line = await within(
    new Promise<string>((resolve, reject) => {
      let text = "";
      child.stdout!.on("data", (chunk: Buffer) => {
        text += chunk.toString();
        if (text.includes("\n")) resolve(text.split("\n")[0]!);
      });
      child.once("exit", (code) => reject(new Error(`hub process exited with ${code}`)));
    }),
    15_000,
    "the hub process to listen",
  );
  return { child, ...(JSON.parse(line) as { url: string; port: number }) };
}

describe.each(["http2", "websocket"] as const)("hub restarted under a %s session", (transport) => {
  it("fails pending calls promptly with RequestInterruptedError, and a new connection works", async () => {
    const first = await startHubProcess();
    const ca = await readFile(join(dir, "cert.pem"));
    const remote = await connectHttps(first.url, { ca, transport, reconnect: false });
    expect(await remote.call("echo", 1)).toBe(1);
    const pending = remote.call("hang", null);
    pending.catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 50));

    const killedAt = Date.now();
    first.child.kill("SIGKILL");
    await expect(within(pending, 3000, "the pending call to fail")).rejects.toBeInstanceOf(
      RequestInterruptedError,
    );
    expect(Date.now() - killedAt).toBeLessThan(2000);
    await within(remote.connection.closed, 1000, "the session to close");
    await expect(remote.call("echo", 2)).rejects.toBeInstanceOf(ClosedError);

    const second = await startHubProcess(first.port);
    const again = await connectHttps(second.url, { ca, transport });
    expect(await again.call("echo", 3)).toBe(3);
    await again.close();
    second.child.kill("SIGKILL");
  });
});

it("a frozen hub (SIGSTOP) is noticed by the client's keep-alive", async () => {
  const frozen = await startHubProcess();
  const ca = await readFile(join(dir, "cert.pem"));
  const remote = await connectHttps(frozen.url, { ca, keepAlive: 200, reconnect: false });
  const pending = remote.call("hang", null);
  pending.catch(() => undefined);
  frozen.child.kill("SIGSTOP");
  try {
    await expect(within(pending, 3000, "the pending call to fail")).rejects.toBeInstanceOf(
      RequestInterruptedError,
    );
    expect(await within(remote.connection.closed, 1000, "the session to close")).toMatchObject({
      code: "ECONNECTION_LOST",
      message: expect.stringMatching(/keep-alive/),
    });
  } finally {
    frozen.child.kill("SIGKILL");
  }
});

it("a clean shutdown (listener.close) fails calls in flight, and a new listener on the port works", async () => {
  const hub = new Hub();
  await hub.register("echo", (data: unknown) => data);
  await hub.register("hang", () => new Promise(() => undefined));
  const listener = await listenHttps(hub, { certDir: join(dir, "clean") });
  const remote = await connectHttps(listener.url, { ca: listener.certificate, reconnect: false });
  const pending = remote.call("hang", null);
  pending.catch(() => undefined);
  await new Promise((resolve) => setTimeout(resolve, 20));
  await within(listener.close(), 3000, "listener close");
  await expect(within(pending, 2000, "the pending call")).rejects.toBeInstanceOf(RequestInterruptedError);
  await expect(within(pending, 2000, "the pending call")).rejects.toThrow(/shutting down/);

  const restarted = await listenHttps(hub, { certDir: join(dir, "clean"), port: listener.port });
  const again = await connectHttps(restarted.url, { ca: listener.certificate });
  expect(await again.call("echo", "back")).toBe("back");
  await again.close();
  await restarted.close();
  await hub.close();
});

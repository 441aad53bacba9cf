// Direct channels: two local peers of a hub get their own socketpair; after the introduction
// their calls no longer pass through the hub.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, open, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  FileDescriptor,
  Hub,
  connectDirect,
  connectUnix,
  listenUnix,
  type UnixListener,
} from "../../index.js";
import { within } from "../compliance/suite.js";
import { nodeArgs } from "../helpers/programs.js";

let dir: string;
let hub: Hub;
let listener: UnixListener;
let peer: ChildProcess;
const dispatched: string[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-direct-"));
  hub = new Hub();
  hub.use(async (call, next) => {
    dispatched.push(call.service.name);
    return next();
  });
  listener = await listenUnix(hub, join(dir, "hub.sock"));
  peer = spawn(
    process.execPath,
    [...nodeArgs(join(import.meta.dirname, "direct-peer.ts")), join(dir, "hub.sock")],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  await within(
    new Promise((resolve) => peer.stdout!.once("data", resolve)),
    10_000,
    "the service to register",
  );
});

afterAll(async () => {
  peer.kill();
  await listener.close();
  await hub.close();
  await rm(dir, { recursive: true, force: true });
});

describe("direct channels", () => {
  it("introduces once through the hub, then bypasses it", async () => {
    const client = await connectUnix(join(dir, "hub.sock"));
    const viaHub = await client.call<{ pid: number; via: string }>("svc.direct", { echo: "through the hub" });
    expect(viaHub.pid).toBe(peer.pid);
    const before = dispatched.length;

    const direct = await connectDirect(client, "svc.direct");
    expect(dispatched.length).toBe(before + 1); // the introduction
    for (let i = 0; i < 50; i++) {
      expect(await direct.call({ echo: i })).toEqual({ pid: peer.pid, echo: i, via: "direct" });
    }
    expect(dispatched.length).toBe(before + 1); // none of the 50 calls went through the hub

    await direct.close();
    await client.close();
  });

  it("carries descriptors on the direct link too", async () => {
    const client = await connectUnix(join(dir, "hub.sock"));
    const direct = await connectDirect(client, "svc.direct");
    const path = join(dir, "direct.txt");
    await writeFile(path, "passed directly");
    const handle = await open(path, "r");
    expect(await direct.call({ file: new FileDescriptor(handle) })).toEqual({
      text: "passed directly",
      via: "direct",
    });
    await direct.close();
    await client.close();
  });

  it("fails clearly when the service does not accept direct links or does not exist", async () => {
    const client = await connectUnix(join(dir, "hub.sock"));
    await client.register("svc.plain", () => "plain");
    await expect(connectDirect(client, "svc.nobody")).rejects.toMatchObject({ code: "ESERVICE_NOT_FOUND" });
    // A plain handler answers the introduction like any call, but never starts a session.
    await expect(within(connectDirect(client, "svc.plain"), 1000, "the introduction")).rejects.toThrow(
      /without accepting a direct link/,
    );
    await client.close();
  });

  it("ends the link, and fails what is pending, when the service process dies", async () => {
    const client = await connectUnix(join(dir, "hub.sock"));
    const direct = await connectDirect(client, "svc.direct");
    expect(await direct.call({ echo: "alive" })).toMatchObject({ echo: "alive" });
    const pending = direct.channel.request({ echo: "never answered" }, { timeout: 5000 });
    peer.kill("SIGKILL"); // last test: the service goes away for good
    await expect(within(pending, 1000, "the pending request to fail")).rejects.toThrow(/closed/);
    expect(await within(direct.closed, 1000, "the link to close")).toBeInstanceOf(Error);
    await client.close();
  });
});

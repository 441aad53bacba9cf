/**
 * A call through a remote hub client settles its caller as directly as a bare request on the
 * session's root channel (issue 19, the Unix call path): the client maps a failed request's
 * error with one function per connection, not with a `.catch` on every call's promise, which
 * cost a closure, a promise and a microtask turn per call. Two replies that arrive in one read
 * resume their callers in the order they arrived; with the turn, the bare request's caller ran
 * first. Real Unix socket; the order is the structure of the path, not a time.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectUnix, Hub, listenUnix, type RemoteHub, type UnixListener } from "../../index.js";
import { within } from "../compliance/suite.js";

let dir: string;
let hub: Hub;
let listener: UnixListener;
let client: RemoteHub;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-remote-hops-"));
  hub = new Hub();
  await hub.register("echo", (data: unknown) => data);
  listener = await listenUnix(hub, join(dir, "hub.sock"));
  client = await connectUnix(join(dir, "hub.sock"));
});

afterAll(async () => {
  await client?.close();
  await listener?.close();
  await hub?.close();
  await rm(dir, { recursive: true, force: true });
});

describe("a remote call's promise", () => {
  it("resumes its caller in the order the replies arrived, as a bare root-channel request does", async () => {
    for (let attempt = 0; attempt < 5; attempt++) {
      const order: string[] = [];
      // Sent in one turn, so in one write; the hub answers both in one write, read at once.
      const call = client.call("echo", "call").then((reply) => order.push(String(reply)));
      const bare = client.connection.root
        .request({ op: "call", name: "echo", data: "bare" })
        .then((reply) => order.push(String(reply)));
      await within(Promise.all([call, bare]), 10_000, "both replies");
      expect(order).toEqual(["call", "bare"]);
    }
  });

  it("still names the request when it fails, and keeps a service's error as it is", async () => {
    await expect(client.call("no.such.service", 1, { timeout: 5000 })).rejects.toMatchObject({
      code: "ESERVICE_NOT_FOUND",
    });
    const closed = await connectUnix(join(dir, "hub.sock"));
    await closed.close();
    await expect(closed.call("echo", 1)).rejects.toMatchObject({ code: "ECLOSED" });
  });
});

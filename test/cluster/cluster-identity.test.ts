// The caller's identity across hubs: hub C's access rules and its services see who called at
// hub A — not hub A itself — because the link carries the caller (hubs of a cluster trust each
// other; NATS permissions fence the link subjects).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultAccessRules, isHubOwner } from "../../cli/access-rules.js";
import { joinCluster, type Cluster } from "../../cluster/index.js";
import { Hub, type CallContext, type Identity } from "../../index.js";
import { startNatsServer, type SingleNatsServer } from "../helpers/nats-cluster.js";

let nats: SingleNatsServer;
const hubA = new Hub();
const hubC = new Hub({
  // Only alice may call secret.*; everyone may call open.*, register anything.
  authorize: {
    call: (identity, service) => !service.startsWith("secret.") || identity?.id === "alice",
    register: () => true,
  },
});
const clusters: Cluster[] = [];

beforeAll(async () => {
  nats = await startNatsServer();
  for (const [hub, name] of [
    [hubA, "hub-a"],
    [hubC, "hub-c"],
  ] as const)
    clusters.push(await joinCluster(hub, { servers: nats.url, name: "who", hub: name }));
  const services = hubC.session({ identity: { id: "service", via: "local" } });
  const whoCalled = (_data: unknown, context: CallContext) => context.caller.identity ?? null;
  services.registerNow("secret.op", whoCalled);
  services.registerNow("open.op", whoCalled);
  await clusters[1]!.settled();
  const until = Date.now() + 10_000;
  while ((await hubA.lookup("secret.op")).length === 0 || (await hubA.lookup("open.op")).length === 0) {
    if (Date.now() > until) throw new Error("hub A never saw hub C's services");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}, 60_000);

afterAll(async () => {
  await Promise.allSettled(clusters.map((cluster) => cluster.leave()));
  await Promise.allSettled([hubA.close(), hubC.close()]);
  await nats?.stop();
});

function callerAtA(identity: Identity | undefined) {
  return hubA.session({ identity });
}

describe("the caller's identity across hubs", () => {
  it("hub C's access rule admits alice at hub A, and its service sees her as she is", async () => {
    const alice = { id: "alice", via: "token", attributes: { roles: ["ops"] } };
    const session = callerAtA(alice);
    expect(await session.call("secret.op", null, { timeout: 10_000 })).toEqual(alice);
    expect(await session.call("open.op", null, { timeout: 10_000 })).toEqual(alice);
  });

  it("serves a Unix caller of hub A as a user of another host: its name, not this host's owner or root", async () => {
    // root on hub A's host: kernel credentials that mean nothing on hub C's host.
    const root = { id: "unix:root", via: "unix", uid: 0, gid: 0, pid: 1, user: "root" } as Identity;
    const atC = (await callerAtA(root).call("open.op", null, { timeout: 10_000 })) as Identity & {
      uid?: number;
    };
    expect(atC).toEqual({ id: "unix:root", via: "cluster", attributes: { hub: "hub-a", was: "unix" } });
    expect(atC.uid).toBeUndefined();
    // Hub C's default rules ("other Unix users may do nothing") do not refuse it as a local user.
    const defaults = defaultAccessRules();
    expect(defaults.call?.(atC, "open.op")).toBe(true);
    expect(isHubOwner(atC)).toBe(false);
  });

  it("hub C's access rule refuses mallory and an anonymous caller at hub A (EFORBIDDEN)", async () => {
    const mallory = callerAtA({ id: "mallory", via: "token" });
    await expect(mallory.call("secret.op", null, { timeout: 10_000 })).rejects.toMatchObject({
      code: "EFORBIDDEN",
    });
    expect(await mallory.call("open.op", null, { timeout: 10_000 })).toEqual({ id: "mallory", via: "token" });
    const anonymous = callerAtA(undefined);
    await expect(anonymous.call("secret.op", null, { timeout: 10_000 })).rejects.toMatchObject({
      code: "EFORBIDDEN",
    });
    // Not hub A's identity: nobody in particular.
    expect(await anonymous.call("open.op", null, { timeout: 10_000 })).toBeNull();
  });

  it("each caller keeps its identity when calls of several callers interleave", async () => {
    const callers = ["alice", "bob", "carol", "alice", "bob"].map((id) => ({ id, via: "token" }));
    const answers = await Promise.all(
      callers.map((identity) => callerAtA(identity).call("open.op", null, { timeout: 10_000 })),
    );
    expect(answers).toEqual(callers);
  });
});

// SECURITY.md's advice for a cluster, tried on a real nats-server: one NATS user per hub, allowed
// only its own link subjects. Hubs work so fenced; a hub's credentials cannot read another hub's
// links nor speak on a link as another hub; a client without credentials is refused.
import { connect as connectNats, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Hub } from "../../index.js";
import { joinCluster, type Cluster } from "../../cluster/index.js";
import { within } from "../compliance/suite.js";
import { startNatsServer, type SingleNatsServer } from "../helpers/nats-cluster.js";

const HUBS = ["hub-a", "hub-b", "hub-c"];
const password = (hub: string): string => `secret-of-${hub}`;

/** The permissions SECURITY.md gives a hub of cluster "sec". */
function user(hub: string): string {
  const subjects = (list: string[]): string => list.map((subject) => JSON.stringify(subject)).join(", ");
  return `{ user: ${JSON.stringify(hub)}, password: ${JSON.stringify(password(hub))}, permissions: {
    publish: { allow: [${subjects([`_beam.sec.*.l.${hub}`, "_beam.sec.*.ctl", "beam.sec.>", "$JS.API.>", "$KV.beam_sec.>", "_INBOX.>", "$SRV.>"])}] }
    subscribe: { allow: [${subjects([`_beam.sec.${hub}.>`, "beam.sec.>", "_INBOX.>", "$SRV.>"])}] }
  } }`;
}

let nats: SingleNatsServer;
const hubs = new Map<string, Hub>();
const clusters: Cluster[] = [];

beforeAll(async () => {
  nats = await startNatsServer({
    extraConfig: `authorization { users = [ ${HUBS.map(user).join(",\n")},
      { user: admin, password: admin-secret } ] }`,
    connectOptions: { user: "admin", pass: "admin-secret" },
  });
  for (const name of HUBS) {
    const hub = new Hub();
    hubs.set(name, hub);
    clusters.push(
      await joinCluster(hub, {
        servers: nats.url,
        name: "sec",
        hub: name,
        nats: { user: name, pass: password(name) },
      }),
    );
  }
}, 60_000);

afterAll(async () => {
  await Promise.allSettled(clusters.map((cluster) => cluster.leave()));
  await Promise.allSettled([...hubs.values()].map((hub) => hub.close()));
  await nats?.stop();
});

/** The next permission error NATS reports on `nc` (bounded). */
function permissionError(nc: NatsConnection): Promise<string> {
  return within(
    (async () => {
      for await (const status of nc.status())
        if (status.type === "error") return String((status as { error?: unknown }).error);
      return "closed";
    })(),
    5000,
    "a permissions violation",
  );
}

describe("a cluster fenced by NATS permissions", () => {
  it("works with one NATS user per hub, allowed only its own links", async () => {
    await hubs.get("hub-c")!.register("sec.echo", (data: unknown) => data);
    expect(
      await hubs.get("hub-a")!.call("sec.echo", "fenced", { waitForService: 10_000, timeout: 10_000 }),
    ).toBe("fenced");
  });

  it("keeps a hub's credentials out of another hub's links, and from speaking as it", async () => {
    const asB = await connectNats({ servers: nats.url, user: "hub-b", pass: password("hub-b") });
    try {
      const refusedRead = permissionError(asB);
      asB.subscribe("_beam.sec.hub-c.>");
      expect(await refusedRead).toMatch(/Permissions Violation for Subscription to "_beam\.sec\.hub-c\.>"/);

      const refusedWrite = permissionError(asB);
      asB.publish("_beam.sec.hub-a.l.hub-c", new Uint8Array(13));
      expect(await refusedWrite).toMatch(
        /Permissions Violation for Publish to "_beam\.sec\.hub-a\.l\.hub-c"/,
      );
      // Its own name it may use.
      asB.publish("_beam.sec.hub-a.l.hub-b", new Uint8Array(13));
      await asB.flush();
    } finally {
      await asB.close();
    }
  });

  it("refuses a client without credentials", async () => {
    await expect(connectNats({ servers: nats.url, reconnect: false })).rejects.toThrow(
      /Authorization Violation/i,
    );
  });
});

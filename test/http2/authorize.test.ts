// Per-service authorization over HTTPS: the hub's access rules (`hub.authorize`) decide who may
// call and who may register a name, from the identity a bearer token gives the session. A refused
// peer gets `ForbiddenError` (EFORBIDDEN) whether or not the service exists, and list, lookup
// and watch hide the services it may not call.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectHttps, ForbiddenError, type Identity, type WatchEvent } from "../../index.js";
import { certificateFile, curl, curlVersion, startHub, within, type HttpsFixture } from "./helpers.js";

let fixture: HttpsFixture;
const tokens: Record<string, string> = { "alice-token": "alice", "bob-token": "bob" };

beforeAll(async () => {
  fixture = await startHub({
    requireAuth: true,
    authenticate: (token) => (tokens[token] === undefined ? undefined : { id: tokens[token] }),
  });
  fixture.hub.authorize({
    // admin.* is alice's; everything else anyone authenticated may call.
    call: (identity: Identity | undefined, service: string) =>
      service.startsWith("admin.") ? identity?.id === "alice" : identity !== undefined,
    // Only bob may register names under bob.*; nobody else registers admin.*.
    register: (identity: Identity | undefined, service: string) =>
      service.startsWith("bob.") ? identity?.id === "bob" : !service.startsWith("admin."),
  });
  // The hub's own session is trusted: it registers admin.* without a rule allowing it.
  await fixture.hub.register("public.echo", (data: unknown) => data);
  await fixture.hub.register("admin.secret", () => "the secret");
});

afterAll(async () => {
  await fixture?.close();
});

function connectAs(token: string, transport: "http2" | "websocket") {
  return connectHttps(fixture.listener.url, { ca: fixture.listener.certificate, token, transport });
}

describe.each(["http2", "websocket"] as const)("authorization over %s", (transport) => {
  it("lets alice call admin.* and see it", async () => {
    const alice = await connectAs("alice-token", transport);
    try {
      expect(await alice.call("admin.secret")).toBe("the secret");
      expect((await alice.list()).map((service) => service.name).sort()).toEqual([
        "admin.secret",
        "public.echo",
      ]);
      expect(await alice.lookup("admin.secret")).toHaveLength(1);
    } finally {
      await alice.close();
    }
  });

  it("refuses bob's call with EFORBIDDEN, the same for a service that does not exist", async () => {
    const bob = await connectAs("bob-token", transport);
    try {
      expect(await bob.call("public.echo", 42)).toBe(42);
      const refused = await bob.call("admin.secret").catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(ForbiddenError);
      expect(refused).toMatchObject({ code: "EFORBIDDEN" });
      expect((refused as Error).message).toMatch(/EFORBIDDEN/);
      expect((refused as Error).message).toContain('identity "bob" may not call "admin.secret"');
      // A name nobody serves is refused the same way: the refusal tells nothing about existence.
      const missing = await bob.call("admin.nothing").catch((error: unknown) => error);
      expect(missing).toBeInstanceOf(ForbiddenError);
      expect((missing as Error).message).toContain('"admin.nothing"');
    } finally {
      await bob.close();
    }
  });

  it("hides the services bob may not call from list, lookup and watch", async () => {
    const bob = await connectAs("bob-token", transport);
    try {
      expect((await bob.list()).map((service) => service.name)).toEqual(["public.echo"]);
      expect(await bob.list({ prefix: "admin." })).toEqual([]);
      expect(await bob.lookup("admin.secret")).toEqual([]);

      const watch = bob.watch({ existing: true });
      const seen: WatchEvent[] = [];
      const reading = (async () => {
        for await (const event of watch) {
          seen.push(event);
          if (event.service.name === "public.later") return;
        }
      })();
      const hidden = await fixture.hub.register("admin.later", () => null);
      const shown = await fixture.hub.register("public.later", () => null);
      await within(reading, 5_000, "watch events");
      watch.close();
      await hidden.unregister();
      await shown.unregister();
      expect(seen.map((event) => `${event.type} ${event.service.name}`)).toEqual([
        "added public.echo",
        "added public.later",
      ]);
    } finally {
      await bob.close();
    }
  });

  it("lets only bob register bob.*, and nobody remote register admin.*", async () => {
    const alice = await connectAs("alice-token", transport);
    const bob = await connectAs("bob-token", transport);
    try {
      const refused = await alice.register("bob.tool", () => "alice's").catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(ForbiddenError);
      expect((refused as Error).message).toContain('identity "alice" may not register "bob.tool"');
      const impostor = await bob.register("admin.secret", () => "fake").catch((error: unknown) => error);
      expect(impostor).toBeInstanceOf(ForbiddenError);

      const registration = await bob.register("bob.tool", () => "bob's");
      expect(await alice.call("bob.tool")).toBe("bob's");
      await registration.unregister();
      // The refused registrations never reached the registry.
      expect((await fixture.hub.lookup("admin.secret")).map((service) => service.sessionId)).toHaveLength(1);
    } finally {
      await alice.close();
      await bob.close();
    }
  });
});

describe("authorization over the plain HTTP mapping", () => {
  it("answers 403 EFORBIDDEN and hides services in /services", async () => {
    if ((await curlVersion()) === undefined) {
      console.log("skipped: curl with HTTP/2 is not installed");
      return;
    }
    const cacert = await certificateFile(fixture);
    const base = `${fixture.listener.url}/beamhub/v1`;
    const bob = ["--http2", "--cacert", cacert, "-H", "authorization: Bearer bob-token"];
    const refused = await curl([
      ...bob,
      "-H",
      "content-type: application/json",
      "-d",
      "null",
      `${base}/call/admin.secret`,
    ]);
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.body)).toMatchObject({ code: "EFORBIDDEN", name: "ForbiddenError" });
    const listed = await curl([...bob, `${base}/services`]);
    expect(listed.status).toBe(200);
    expect((JSON.parse(listed.body) as { name: string }[]).map((service) => service.name)).toEqual([
      "public.echo",
    ]);
  });
});

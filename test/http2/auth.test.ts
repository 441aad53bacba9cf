// Who is calling: a client certificate signed by the hub's CA (mutual TLS) or a bearer token
// accepted by `authenticate` becomes the session's identity, which handlers and middleware
// see; everyone else is refused with a clear error when authentication is required.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import {
  AuthenticationError,
  type CallContext,
  type CertificatePair,
  connectHttps,
  createDevCertificate,
  type Identity,
} from "../../index.js";
import { certificateFile, curl, curlVersion, startHub, within, type HttpsFixture } from "./helpers.js";

let fixture: HttpsFixture;
let ca: CertificatePair;
let alice: CertificatePair;
let mallory: CertificatePair;
const seenByMiddleware: (Identity | undefined)[] = [];

beforeAll(async () => {
  ca = await createDevCertificate({ commonName: "beamhub test CA", isCa: true });
  alice = await createDevCertificate({ commonName: "alice", signedBy: ca, hosts: ["alice.example"] });
  const otherCa = await createDevCertificate({ commonName: "someone else's CA", isCa: true });
  mallory = await createDevCertificate({
    commonName: "mallory",
    signedBy: otherCa,
    hosts: ["mallory.example"],
  });
  fixture = await startHub({
    ca: ca.cert,
    requireAuth: true,
    authenticate: (token) => (token === "s3cret" ? { id: "bob", attributes: { role: "ops" } } : undefined),
  });
  fixture.hub.use((call, next) => {
    seenByMiddleware.push(call.caller.identity);
    return next();
  });
  await fixture.hub.register(
    "whoami",
    (_data: unknown, context: CallContext) => context.caller.identity ?? null,
  );
});

afterAll(async () => {
  await fixture?.close();
});

describe.each(["http2", "websocket"] as const)("identity over %s", (transport) => {
  it("a client certificate signed by the hub's CA gives {id: CN, via: mtls}", async () => {
    const remote = await connectHttps(fixture.listener.url, {
      ca: fixture.listener.certificate,
      cert: alice.cert,
      key: alice.key,
      transport,
    });
    const identity = await remote.call<Identity>("whoami");
    expect(identity).toMatchObject({ id: "alice", via: "mtls" });
    expect(seenByMiddleware.at(-1)).toMatchObject({ id: "alice", via: "mtls" });
    await remote.close();
  });

  it("a bearer token accepted by authenticate gives {via: token}", async () => {
    const remote = await connectHttps(fixture.listener.url, {
      ca: fixture.listener.certificate,
      token: "s3cret",
      transport,
    });
    expect(await remote.call("whoami")).toEqual({ id: "bob", via: "token", attributes: { role: "ops" } });
    await remote.close();
  });

  it("refuses a peer without credentials, with a clear error", async () => {
    const attempt = connectHttps(fixture.listener.url, { ca: fixture.listener.certificate, transport });
    await expect(attempt).rejects.toBeInstanceOf(AuthenticationError);
    await expect(attempt).rejects.toThrow(/authentication required/);
  });

  it("refuses a wrong token and a certificate from another CA", async () => {
    await expect(
      connectHttps(fixture.listener.url, { ca: fixture.listener.certificate, token: "guess", transport }),
    ).rejects.toThrow(/401.*token was refused/);
    await expect(
      connectHttps(fixture.listener.url, {
        ca: fixture.listener.certificate,
        cert: mallory.cert,
        key: mallory.key,
        transport,
      }),
    ).rejects.toThrow(/client certificate was not accepted/);
  });
});

describe("identity in the plain HTTP mapping", async () => {
  const version = await curlVersion();
  it.skipIf(version === undefined)("curl needs a token too", async () => {
    const cacert = await certificateFile(fixture);
    const url = `${fixture.listener.url}/beamhub/v1/call/whoami`;
    const refused = await curl(["--http2", "--cacert", cacert, "-d", "null", url]);
    expect(refused.status).toBe(401);
    expect(JSON.parse(refused.body)).toMatchObject({ name: "AuthenticationError", code: "EUNAUTHENTICATED" });
    const accepted = await curl([
      "--http2",
      "--cacert",
      cacert,
      "-H",
      "authorization: Bearer s3cret",
      "-H",
      "content-type: application/json",
      "-d",
      "null",
      url,
    ]);
    expect(accepted.status).toBe(200);
    expect(JSON.parse(accepted.body)).toMatchObject({ id: "bob", via: "token" });
  });
});

describe("tokens from browsers (no headers on a WebSocket)", () => {
  function upgrade(path: string, protocols: string[]): Promise<number> {
    const socket = new WebSocket(`${fixture.listener.url.replace("https:", "wss:")}${path}`, protocols, {
      ca: fixture.listener.certificate,
    });
    socket.on("error", () => undefined);
    return within(
      new Promise<number>((resolve) => {
        socket.once("open", () => {
          socket.terminate();
          resolve(101);
        });
        socket.once("unexpected-response", (request, response) => {
          request.destroy();
          resolve(response.statusCode ?? 0);
        });
      }),
      3000,
      "the upgrade",
    );
  }

  it("accepts the access_token query parameter", async () => {
    expect(await upgrade("/beamhub/v1/ws?access_token=s3cret", ["beamhub.v1"])).toBe(101);
    expect(await upgrade("/beamhub/v1/ws?access_token=nope", ["beamhub.v1"])).toBe(401);
    expect(await upgrade("/beamhub/v1/ws", ["beamhub.v1"])).toBe(401);
  });

  it("accepts a beamhub.token.<base64url> subprotocol", async () => {
    const token = `beamhub.token.${Buffer.from("s3cret").toString("base64url")}`;
    expect(await upgrade("/beamhub/v1/ws", ["beamhub.v1", token])).toBe(101);
  });
});

// X-Forwarded-For is believed only from trusted proxies: for the per-address session limit and
// for the address an authenticate function sees. From anyone else it is ignored, so a peer
// cannot escape the per-address limits, or pin them on someone else, by sending the header.
import type { IncomingHttpHeaders } from "node:http2";
import { afterEach, describe, expect, it } from "vitest";
import type { ListenHttpsOptions } from "../../index.js";
import { TrustedProxies } from "../../transports/http2/trusted-proxies.js";
import {
  certificateFile,
  curl,
  curlVersion,
  rawHttp2,
  startHub,
  within,
  type HttpsFixture,
} from "./helpers.js";

let fixture: HttpsFixture | undefined;

afterEach(async () => {
  await fixture?.close();
  fixture = undefined;
});

async function hub(options: ListenHttpsOptions): Promise<HttpsFixture> {
  fixture = await startHub({ handshakeTimeout: 5000, ...options });
  return fixture;
}

/** Opens session requests on one HTTP/2 connection; resolves with each one's :status. */
async function sessionStatuses(
  target: HttpsFixture,
  forwardedFor: (string | undefined)[],
): Promise<number[]> {
  const session = rawHttp2(target.listener);
  try {
    const statuses: number[] = [];
    for (const address of forwardedFor) {
      const stream = session.request(
        {
          ":method": "POST",
          ":path": "/beamhub/v1/session",
          "content-type": "application/beamhub",
          ...(address === undefined ? {} : { "x-forwarded-for": address }),
        },
        { endStream: false },
      );
      stream.on("error", () => undefined);
      const headers = await within(
        new Promise<IncomingHttpHeaders>((resolve) => stream.once("response", resolve)),
        5000,
        "the session response",
      );
      statuses.push(Number(headers[":status"]));
    }
    return statuses;
  } finally {
    session.destroy();
  }
}

describe("the per-address session limit", () => {
  it("counts anonymous sessions by the forwarded address when the proxy is trusted", async () => {
    const target = await hub({ maxSessionsPerIdentity: 1, trustedProxies: ["127.0.0.1"] });
    expect(await sessionStatuses(target, ["203.0.113.7", "203.0.113.7", "198.51.100.2, 127.0.0.1"])).toEqual([
      200, 429, 200,
    ]);
  });

  it("ignores X-Forwarded-For from an address that is not a trusted proxy", async () => {
    const target = await hub({ maxSessionsPerIdentity: 1, trustedProxies: ["10.0.0.0/8"] });
    expect(await sessionStatuses(target, ["203.0.113.7", "198.51.100.2"])).toEqual([200, 429]);
  });
});

const version = await curlVersion();

describe.skipIf(version === undefined)("the address authenticate sees", () => {
  async function seenAddress(options: ListenHttpsOptions, forwardedFor: string): Promise<string | undefined> {
    let seen: string | undefined;
    const target = await hub({
      ...options,
      authenticate: (token, peer) => {
        seen = peer.remoteAddress;
        return { id: token };
      },
    });
    await target.hub.register("echo", (data: unknown) => data);
    const result = await curl([
      "--http2",
      "--cacert",
      await certificateFile(target),
      "-H",
      "authorization: Bearer alice",
      "-H",
      `x-forwarded-for: ${forwardedFor}`,
      "-H",
      "content-type: application/json",
      "-d",
      "1",
      `${target.listener.url}/beamhub/v1/call/echo`,
    ]);
    expect(result.status).toBe(200);
    return seen;
  }

  it("is the forwarded client behind a trusted proxy", async () => {
    expect(await seenAddress({ trustedProxies: ["127.0.0.1"] }, "198.51.100.9")).toBe("198.51.100.9");
  });

  it("is the socket's address otherwise", async () => {
    expect(await seenAddress({}, "198.51.100.9")).toBe("127.0.0.1");
  });
});

describe("TrustedProxies", () => {
  const proxies = new TrustedProxies(["10.0.0.0/8", "192.0.2.1", "fd00::/8"]);

  it("matches addresses and ranges, IPv4-mapped IPv6 as IPv4", () => {
    expect(proxies.has("10.1.2.3")).toBe(true);
    expect(proxies.has("::ffff:10.1.2.3")).toBe(true);
    expect(proxies.has("192.0.2.1")).toBe(true);
    expect(proxies.has("192.0.2.2")).toBe(false);
    expect(proxies.has("fd12::1")).toBe(true);
    expect(proxies.has("2001:db8::1")).toBe(false);
  });

  it("takes the right-most forwarded address that is not a trusted proxy", () => {
    const client = (socket: string, header?: string): string | undefined =>
      proxies.clientAddress(socket, header === undefined ? {} : { "x-forwarded-for": header });
    expect(client("10.0.0.1", "198.51.100.1")).toBe("198.51.100.1");
    // A client may send its own X-Forwarded-For: only what trusted hops appended counts.
    expect(client("10.0.0.1", "6.6.6.6, 198.51.100.1, 10.0.0.9")).toBe("198.51.100.1");
    expect(client("10.0.0.1", "[2001:db8::5]:443, 203.0.113.4:5555")).toBe("203.0.113.4");
    expect(client("10.0.0.1", "not-an-address, 10.0.0.9")).toBe("10.0.0.9");
    expect(client("10.0.0.1")).toBe("10.0.0.1");
    expect(client("198.51.100.1", "6.6.6.6")).toBe("198.51.100.1");
    expect(client("::ffff:198.51.100.1", "6.6.6.6")).toBe("198.51.100.1");
  });

  it("refuses entries that are not addresses or ranges", () => {
    for (const bad of ["proxy.example", "10.0.0.0/33", "10.0.0.0/", "::1/129", "10.0.0.1/8/2"]) {
      expect(() => new TrustedProxies([bad]), bad).toThrow(/is not an IP address or CIDR range/);
    }
  });
});

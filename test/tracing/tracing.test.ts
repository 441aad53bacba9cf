// One trace across processes and transports: W3C trace context carried in `call` requests and
// handler requests (PROTOCOL.md "Trace context"), spans through @opentelemetry/api with a real
// SDK (in-memory exporter, AsyncLocalStorage context), over Unix sockets between processes and
// over HTTPS.
import { mkdtemp, rm } from "node:fs/promises";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { connectHttps, connectUnix, Hub, listenHttps, listenUnix } from "../../index.js";
import { within } from "../compliance/suite.js";
import { installSdk, type InstalledSdk, type SpanRecord } from "./tracing-sdk.js";
import { startPeer } from "./peer-process.js";

let sdk: InstalledSdk;
let dir: string;
beforeAll(async () => {
  sdk = installSdk();
  dir = await mkdtemp(join(tmpdir(), "beamhub-tracing-"));
});
afterAll(async () => {
  await sdk.uninstall();
  await rm(dir, { recursive: true, force: true });
});
afterEach(() => sdk.reset());

/** The one span named `name` among `spans`. */
function only(spans: SpanRecord[], name: string): SpanRecord {
  const found = spans.filter((span) => span.name === name);
  expect(
    found.map((span) => span.name),
    `exactly one span "${name}"`,
  ).toEqual([name]);
  return found[0]!;
}

/** Asserts that `chain` is a line of parent → child spans of one trace, the first a root. */
function expectChain(chain: SpanRecord[]): void {
  expect(chain[0]!.parentSpanId).toBeUndefined();
  for (let i = 1; i < chain.length; i++) {
    expect(chain[i]!.traceId, `${chain[i]!.name} is in the trace`).toBe(chain[0]!.traceId);
    expect(chain[i]!.parentSpanId, `${chain[i]!.name} is a child of ${chain[i - 1]!.name}`).toBe(
      chain[i - 1]!.spanId,
    );
  }
}

describe("tracing in one process", () => {
  it("a handler's nested call is a child of the dispatch span of the call it serves", async () => {
    const hub = new Hub();
    try {
      await hub.register("inner", (n: number) => n + 1);
      await hub.register("outer", async (n: number) => (await hub.call<number>("inner", n)) * 10);
      expect(await hub.call("outer", 1)).toBe(20);
      const spans = sdk.spans();
      const outer = only(spans, "dispatch outer");
      const inner = only(spans, "dispatch inner");
      expectChain([outer, inner]);
      expect(outer.attributes).toMatchObject({
        "rpc.system": "beamhub",
        "rpc.service": "outer",
        "beamhub.caller.session": "s1",
      });
      expect(inner.attributes["beamhub.instance"]).toEqual(expect.any(String));
    } finally {
      await hub.close();
    }
  });

  it("a failed call ends its span with status ERROR and the error code", async () => {
    const hub = new Hub();
    try {
      await hub.register("broken", () => {
        throw new Error("no luck");
      });
      await expect(hub.call("broken")).rejects.toMatchObject({ code: "EHANDLER" });
      await expect(hub.call("missing")).rejects.toMatchObject({ code: "ESERVICE_NOT_FOUND" });
      const broken = only(sdk.spans(), "dispatch broken");
      expect(broken.status).toBe(SpanStatusCode.ERROR);
      expect(broken.attributes["error.type"]).toBe("EHANDLER");
      expect(only(sdk.spans(), "dispatch missing").attributes["error.type"]).toBe("ESERVICE_NOT_FOUND");
    } finally {
      await hub.close();
    }
  });
});

describe("tracing over Unix sockets, between processes", () => {
  it("caller → hub → service (another process) → hub → service: one trace", async () => {
    const hub = new Hub();
    const socket = join(dir, "hub.sock");
    const listener = await listenUnix(hub, socket);
    const backSide = await connectUnix(socket);
    const caller = await connectUnix(socket);
    const peer = await startPeer("service", socket);
    let peerSpans: SpanRecord[] = [];
    try {
      await backSide.register("back", (data: string) => `back(${data})`);
      expect(await within(caller.call("front", "x"), 15_000, "the traced call")).toBe("front(back(x))");
    } finally {
      const printed = await peer.stop();
      peerSpans = JSON.parse(printed.trim()) as SpanRecord[];
      await caller.close();
      await backSide.close();
      await listener.close();
      await hub.close();
    }
    const here = sdk.spans();
    const chain = [
      only(here, "call front"),
      only(here, "dispatch front"),
      only(peerSpans, "serve front"),
      only(peerSpans, "call back"),
      only(here, "dispatch back"),
      only(here, "serve back"),
    ];
    expectChain(chain);
    expect(chain.map((span) => span.kind)).toEqual([
      SpanKind.CLIENT,
      SpanKind.SERVER,
      SpanKind.SERVER,
      SpanKind.CLIENT,
      SpanKind.SERVER,
      SpanKind.SERVER,
    ]);
    expect(chain.every((span) => span.status !== SpanStatusCode.ERROR)).toBe(true);
  });

  it("a hub without an SDK (another process) passes the caller's trace context on to the service", async () => {
    const socket = join(dir, "plain-hub.sock");
    const peer = await startPeer("hub", socket);
    const service = await connectUnix(socket);
    const caller = await connectUnix(socket);
    try {
      await service.register("echo", (data: unknown) => data);
      expect(await within(caller.call("echo", "hi"), 15_000, "the call")).toBe("hi");
    } finally {
      await caller.close();
      await service.close();
      await peer.stop();
    }
    const spans = sdk.spans();
    expectChain([only(spans, "call echo"), only(spans, "serve echo")]);
  });
});

describe("tracing over HTTPS", () => {
  it("caller → hub → service over HTTP/2 and the WebSocket, and a plain HTTP call with a traceparent header", async () => {
    const hub = new Hub();
    const listener = await listenHttps(hub);
    const service = await connectHttps(listener.url, { ca: listener.certificate, transport: "http2" });
    const caller = await connectHttps(listener.url, { ca: listener.certificate, transport: "websocket" });
    try {
      await service.register("greet", (name: string) => `hello ${name}`);
      await hub.register("relay", (name: string) => caller.call("greet", name));
      expect(await within(caller.call("relay", "ada"), 15_000, "the traced call")).toBe("hello ada");
      const spans = sdk.spans();
      const greetDispatch = spans.find(
        (span) => span.name === "dispatch greet" && span.parentSpanId !== undefined,
      )!;
      expectChain([
        only(spans, "call relay"),
        only(spans, "dispatch relay"),
        only(spans, "call greet"),
        greetDispatch,
        only(spans, "serve greet"),
      ]);
      sdk.reset();

      // The plain HTTP mapping reads the same context from W3C headers.
      const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
      const body = await postJson(listener.url, "/beamhub/v1/call/greet", '"curl"', listener.certificate, {
        traceparent: `00-${traceId}-00f067aa0ba902b7-01`,
      });
      expect(body).toBe('"hello curl"');
      const dispatch = only(sdk.spans(), "dispatch greet");
      expect(dispatch.traceId).toBe(traceId);
      expect(dispatch.parentSpanId).toBe("00f067aa0ba902b7");
      expect(only(sdk.spans(), "serve greet").parentSpanId).toBe(dispatch.spanId);
    } finally {
      await caller.close();
      await service.close();
      await listener.close();
      await hub.close();
    }
  });
});

/** POSTs `body` as JSON over HTTPS (HTTP/1.1) and resolves to the response body (status 200). */
function postJson(
  base: string,
  path: string,
  body: string,
  ca: string,
  headers: Record<string, string>,
): Promise<string> {
  return within(
    new Promise<string>((resolve, reject) => {
      const request = httpsRequest(
        new URL(path, base),
        { method: "POST", ca, headers: { "content-type": "application/json", ...headers } },
        (response) => {
          let text = "";
          response.setEncoding("utf8");
          response.on("data", (chunk: string) => (text += chunk));
          response.on("end", () =>
            response.statusCode === 200
              ? resolve(text)
              : reject(new Error(`${response.statusCode}: ${text}`)),
          );
        },
      );
      request.once("error", reject);
      request.end(body);
    }),
    10_000,
    `POST ${path}`,
  );
}

// What a plain HTTP call leaves behind and how it ends, with Node's own HTTP/2 client over real
// TLS: a client that goes away cancels the handler (its signal aborts, with the reason), every
// request's session closes once answered, and observers see those sessions close with a
// ClosedError. The mapping makes no AbortController per request and shares one ClosedError
// (issue 19, the curl face); these are the semantics that must not change with that.
import { once } from "node:events";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClosedError, type CallContext, type SessionInfo } from "../../index.js";
import { rawHttp2, startHub, type HttpsFixture } from "./helpers.js";

let fixture: HttpsFixture;
const started: (() => void)[] = [];
const aborted: unknown[] = [];
const closed: { info: SessionInfo; reason: Error | undefined }[] = [];

beforeAll(async () => {
  fixture = await startHub();
  await fixture.hub.register("echo", (data: unknown) => data);
  await fixture.hub.register(
    "wait",
    (_data: unknown, context: CallContext) =>
      new Promise((resolve) => {
        // Kept: `context.signal` read again inside the listener gives a fresh signal (call.ts).
        const signal = context.signal;
        signal.addEventListener("abort", () => {
          aborted.push(signal.reason);
          resolve("too late");
        });
        started.shift()?.();
      }),
  );
  fixture.hub.observe({ sessionClosed: (info, reason) => closed.push({ info, reason }) });
});

afterAll(async () => {
  await fixture?.close();
});

function post(session: ReturnType<typeof rawHttp2>, name: string, body: string) {
  const stream = session.request({
    ":method": "POST",
    ":path": `/beamhub/v1/call/${name}`,
    "content-type": "application/json",
  });
  stream.end(body);
  return stream;
}

async function replyOf(stream: ReturnType<ReturnType<typeof rawHttp2>["request"]>): Promise<unknown> {
  const chunks: Buffer[] = [];
  stream.on("data", (chunk: Buffer) => chunks.push(chunk));
  await once(stream, "end", { signal: AbortSignal.timeout(20_000) });
  return JSON.parse(Buffer.concat(chunks).toString());
}

describe("a plain HTTP call", () => {
  it("is cancelled when its client goes away: the handler's signal aborts with the reason", async () => {
    const session = rawHttp2(fixture.listener);
    try {
      const handlerStarted = new Promise<void>((resolve) => started.push(resolve));
      const stream = post(session, "wait", "null");
      stream.on("error", () => undefined);
      await Promise.race([handlerStarted, once(stream, "close")]);
      stream.close();
      await expect.poll(() => aborted.length, { timeout: 20_000 }).toBe(1);
      expect(aborted[0]).toBeInstanceOf(Error);
      // The call's CallAbortedError; its cause says why.
      expect(aborted[0]).toMatchObject({ code: "EABORTED" });
      expect(String((aborted[0] as Error).cause)).toMatch(/the HTTP client went away/);
    } finally {
      session.close();
    }
  }, 30_000);

  it("leaves no session behind, each closed once with a ClosedError", async () => {
    const sessionsBefore = fixture.hub.sessionsInfo().length;
    const closedBefore = closed.length;
    const session = rawHttp2(fixture.listener);
    try {
      const replies = await Promise.all(
        Array.from({ length: 20 }, (_, index) => replyOf(post(session, "echo", JSON.stringify({ index })))),
      );
      expect(replies).toEqual(Array.from({ length: 20 }, (_, index) => ({ index })));
    } finally {
      session.close();
    }
    await expect.poll(() => closed.length - closedBefore, { timeout: 20_000 }).toBe(20);
    const ours = closed.slice(closedBefore);
    expect(new Set(ours.map(({ info }) => info.id)).size).toBe(20);
    for (const { reason } of ours) expect(reason).toBeInstanceOf(ClosedError);
    // Observers and `beamhub sessions` see what carried them: plain HTTP, and from where.
    for (const { info } of ours)
      expect(info).toMatchObject({ transport: "http", remoteAddress: "127.0.0.1" });
    expect(fixture.hub.sessionsInfo().length).toBe(sessionsBefore);
  }, 30_000);
});

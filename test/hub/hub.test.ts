import { fstatSync, openSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  ByteStream,
  Channel,
  ClosedError,
  FileDescriptor,
  Hub,
  InvalidArgumentError,
  InvalidMessageError,
  InvalidNameError,
  LaggedError,
  validateLabels,
  validateName,
} from "../../index.js";

describe("names and labels", () => {
  it("accepts dotted, slashed and coloned names", () => {
    for (const name of ["a", "db.main", "app/site/hub", "svc:v2", "_private", "x".repeat(255)]) {
      expect(() => validateName(name)).not.toThrow();
    }
  });

  it("rejects everything else with the reason", () => {
    for (const name of ["", " a", "a b", ".hidden", "-x", "x".repeat(256), "naïve", "a\nb"]) {
      expect(() => validateName(name)).toThrow(InvalidNameError);
    }
    expect(() => validateName(42)).toThrow(/must be a string, got number/);
  });

  it("validates labels and freezes a copy", () => {
    const source = { zone: "eu-1", "app.kubernetes.io/name": "db" };
    const labels = validateLabels(source);
    expect(labels).toEqual(source);
    expect(Object.isFrozen(labels)).toBe(true);
    expect(() => validateLabels({ zone: 1 })).toThrow(/must be a string/);
    expect(() => validateLabels({ "": "x" })).toThrow(/invalid label key/);
    expect(() => validateLabels({ k: "a\u0000b" })).toThrow(/control characters/);
    expect(() => validateLabels(JSON.parse('{"__proto__": "x"}'))).toThrow(/"__proto__": reserved/);
    expect(() => validateLabels([])).toThrow(InvalidNameError);
  });
});

describe("hub lifecycle", () => {
  it("rejects pending calls with ClosedError when the hub closes", async () => {
    const hub = new Hub();
    await hub.register("hang", () => new Promise(() => undefined));
    const pending = hub.call("hang");
    await hub.close();
    await expect(pending).rejects.toThrow(ClosedError);
    await expect(pending).rejects.toThrow(/hub is closed/);
    await expect(hub.call("hang")).rejects.toThrow(ClosedError);
    expect(() => hub.session()).toThrow(ClosedError);
  });

  it("rejects bad options and handlers", async () => {
    expect(() => new Hub({ callTimeout: -1 })).toThrow(InvalidArgumentError);
    const hub = new Hub();
    await expect(hub.register("x", 42 as never)).rejects.toThrow(/must be a function/);
    await hub.close();
  });

  it("refuses cyclic message data with a clear error", async () => {
    const hub = new Hub();
    const [, keepOpen] = Channel.pair(); // an open attachment makes the hub walk message data
    await hub.register("echo", (data: unknown) => data);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await expect(hub.call("echo", cyclic)).rejects.toThrow(InvalidMessageError);
    keepOpen.close();
    await hub.close();
  });

  it("runs middleware outermost first and lets it rewrite the request", async () => {
    const hub = new Hub();
    const order: string[] = [];
    hub.use(async (call, next) => {
      order.push("outer");
      call.data = `${String(call.data)}!`;
      return next();
    });
    hub.use(async (_call, next) => {
      order.push("inner");
      return `[${String(await next())}]`;
    });
    await hub.register("echo", (data: unknown) => data);
    expect(await hub.call("echo", "hi")).toBe("[hi!]");
    expect(order).toEqual(["outer", "inner"]);
    await hub.close();
  });
});

describe("watch", () => {
  it("ends a watcher that falls too far behind with LaggedError", async () => {
    const hub = new Hub();
    const watch = hub.watch({ existing: false });
    for (let i = 0; i < 10_050; i++) {
      const registration = await hub.register("churn", () => 1);
      await registration.unregister();
    }
    let seen = 0;
    const failure = await (async () => {
      for await (const _event of watch) seen += 1;
    })().catch((error: unknown) => error);
    expect(seen).toBe(10_000);
    expect(failure).toBeInstanceOf(LaggedError);
    expect((failure as LaggedError).missed).toBe(2 * 10_050 - 10_000);
    await hub.close();
  });

  it("stops on an AbortSignal", async () => {
    const hub = new Hub();
    const controller = new AbortController();
    const watch = hub.watch({ signal: controller.signal });
    const next = watch.next();
    controller.abort();
    expect(await next).toEqual({ done: true, value: undefined });
    await hub.close();
  });
});

describe("channels", () => {
  it("holds a sender back while the receiver is full", async () => {
    const [sender, receiver] = Channel.pair({ highWaterMark: 4 });
    const sends = Array.from({ length: 6 }, (_, i) => sender.send(i));
    let settled = 0;
    for (const send of sends) void send.then(() => (settled += 1));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(settled).toBe(3); // the 4th event filled the queue: its send and later ones wait
    const iterator = receiver[Symbol.asyncIterator]();
    for (let i = 0; i < 4; i++) expect((await iterator.next()).value?.data).toBe(i);
    await Promise.all(sends);
    expect(settled).toBe(6);
    sender.close();
  });

  it("serves requests that arrived before a handler was set, in order", async () => {
    const [a, b] = Channel.pair();
    const replies = [a.request(1), a.request(2)];
    b.handle((n) => (n as number) * 10);
    expect(await Promise.all(replies)).toEqual([10, 20]);
    a.close();
  });

  it("closes what its messages carried when it closes", async () => {
    const [a, b] = Channel.pair();
    const [inner, innerForPeer] = Channel.pair();
    const [stream, streamForPeer] = ByteStream.pair();
    await a.send({ inner: innerForPeer, stream: streamForPeer });
    b.close();
    await inner.closed;
    await stream.closed;
    expect(inner.isClosed && stream.isClosed).toBe(true);
    await expect(a.request("x")).rejects.toThrow(ClosedError);
  });

  it("allows one reader at a time", async () => {
    const [a] = Channel.pair();
    const iterator = a[Symbol.asyncIterator]();
    void iterator.next();
    await expect(iterator.next()).rejects.toThrow(/one reader at a time/);
    a.close();
  });

  it("times out requests nobody answers", async () => {
    const [a] = Channel.pair();
    await expect(a.request("anyone?", { timeout: 20 })).rejects.toMatchObject({ code: "ETIMEOUT" });
    a.close();
  });
});

describe("byte streams", () => {
  it("keeps at most the high-water mark buffered when nobody reads", async () => {
    const [a, b] = ByteStream.pair({ highWaterMark: 1024 });
    const writer = a.writable.getWriter();
    let accepted = 0;
    for (let i = 0; i < 100; i++) void writer.write(new Uint8Array(256)).then(() => (accepted += 1));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(accepted).toBeLessThanOrEqual(5); // 1 KiB buffered, the rest waits for the reader
    const reader = b.readable.getReader();
    let bytes = 0;
    while (bytes < 100 * 256) bytes += (await reader.read()).value!.byteLength;
    expect(bytes).toBe(100 * 256);
    a.reset();
  });

  it("reports closed once both directions finished", async () => {
    const [a, b] = ByteStream.pair();
    await a.writable.close();
    await b.writable.close();
    for await (const _ of b.readable) void _;
    for await (const _ of a.readable) void _;
    await Promise.all([a.closed, b.closed]);
    expect(a.isClosed && b.isClosed).toBe(true);
  });
});

describe("ownership", () => {
  it("closes a descriptor nobody took when its session closes", async () => {
    const hub = new Hub();
    const fd = openSync(import.meta.filename, "r");
    const sender = hub.session();
    await hub.register("ignore", () => "ignored");
    await sender.call("ignore", { file: new FileDescriptor(fd) });
    await sender.close();
    await expect
      .poll(() => {
        try {
          fstatSync(fd);
          return "open";
        } catch {
          return "closed";
        }
      })
      .toBe("closed");
    await hub.close();
  });

  it("leaves a taken descriptor to its new owner", async () => {
    const hub = new Hub();
    const fd = openSync(import.meta.filename, "r");
    const sender = hub.session();
    let taken: unknown;
    await hub.register("keep", ({ file }: { file: FileDescriptor }) => void (taken = file.take()));
    await sender.call("keep", { file: new FileDescriptor(fd) });
    await sender.close();
    expect(taken).toBe(fd);
    expect(() => fstatSync(fd)).not.toThrow();
    await hub.close();
  });

  it("forgets attachments that closed, so long sessions do not grow", async () => {
    const hub = new Hub();
    const session = hub.session();
    await hub.register("touch", ({ channel }: { channel: Channel }) => channel.close());
    for (let i = 0; i < 1000; i++) {
      const [, theirs] = Channel.pair();
      await session.call("touch", { channel: theirs });
    }
    expect(session.scope.size).toBe(0);
    await hub.close();
  });
});

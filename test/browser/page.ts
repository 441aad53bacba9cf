// The scenario the browser test runs inside Chromium. Served as /page.js (esbuild strips the
// types); it loads the real bundle, /beamhub.js, at run time, and everything it reports back
// must survive structured cloning (page.evaluate).
import type * as Beamhub from "../../browser/index.js";

export interface ScenarioResult {
  transport: string;
  services: string[];
  echo: { hello: string; bytes: number[]; nested: { n: number } };
  whoami: string | undefined;
  events: unknown[];
  streamBytes: number;
  streamMatches: boolean;
  notFound: { isServiceNotFound: boolean; isBeamhubError: boolean; code: string };
  callback: unknown;
  badToken: { name: string; code: string };
  /** How the session ended after `hub.close()` (the core reports a ConnectionLostError saying who closed it). */
  closedWith: string | undefined;
  /** A byte-stream broadcast read from a subscription: its message and the SHA-256 of its bytes. */
  broadcast: { from: string; data: unknown; bytes: number; sha256: string; publisherSha256: unknown };
}

const BUNDLE = "/beamhub.js";

export async function runScenario(token: string): Promise<ScenarioResult> {
  const beamhub = (await import(BUNDLE)) as typeof Beamhub;
  const { ByteStream, Channel, connectBrowser } = beamhub;
  const origin = (globalThis as unknown as { location: { origin: string } }).location.origin;
  const hub = await connectBrowser(origin, { token, timeout: 5000 });

  // Discover.
  const services = (await hub.list()).map((service) => service.name).sort();

  // Call, with bytes inside the message.
  const echo = (await hub.call("echo", {
    hello: "browser",
    bytes: new Uint8Array([1, 2, 3, 255]),
    nested: { n: 42 },
  })) as { hello: string; bytes: Uint8Array; nested: { n: number } };
  const whoami = (await hub.call("whoami")) as string | undefined;

  // Events on a channel the page passes to a Node service.
  const [mine, theirs] = Channel.pair();
  await hub.call("ticker", { out: theirs, count: 5 });
  const events: unknown[] = [];
  for await (const message of mine) events.push(message.data);

  // A byte stream round trip: 300 KiB up, transformed and back (several DATA frames and
  // WebSocket messages each way, credit flow control included).
  const size = 300 * 1024;
  const sent = new Uint8Array(size);
  for (let i = 0; i < size; i++) sent[i] = (i * 7) & 0xff;
  const [local, remote] = ByteStream.pair();
  await hub.call("invert", { stream: remote });
  const writer = local.writable.getWriter();
  const writing = (async () => {
    for (let offset = 0; offset < size; offset += 50_000)
      await writer.write(sent.slice(offset, offset + 50_000));
    await writer.close();
  })();
  const received: Uint8Array[] = [];
  let streamBytes = 0;
  for await (const chunk of local.readable) {
    received.push(chunk);
    streamBytes += chunk.byteLength;
  }
  await writing;
  let streamMatches = streamBytes === size;
  let offset = 0;
  for (const chunk of received) {
    for (let i = 0; i < chunk.byteLength && streamMatches; i++) {
      if (chunk[i] !== (~sent[offset + i]! & 0xff)) streamMatches = false;
    }
    offset += chunk.byteLength;
  }

  // A byte-stream broadcast: the page subscribes, a Node service broadcasts 1 MiB to the
  // channel, and the page reads its own copy over the WebSocket and hashes it.
  const subscription = hub.subscribe("browser.files", { history: false, lag: "wait" });
  await subscription.ready;
  const publishing = hub.call("broadcast", { channel: "browser.files", size: 1024 * 1024 });
  const first = (await subscription[Symbol.asyncIterator]().next()).value as Beamhub.PubSubMessage;
  const copy: Uint8Array[] = [];
  let broadcastBytes = 0;
  for await (const chunk of first.stream!.readable) {
    copy.push(chunk);
    broadcastBytes += chunk.byteLength;
  }
  const whole = new Uint8Array(broadcastBytes);
  let at = 0;
  for (const chunk of copy) {
    whole.set(chunk, at);
    at += chunk.byteLength;
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", whole));
  const broadcast = {
    from: first.from,
    data: first.data,
    bytes: broadcastBytes,
    sha256: Array.from(digest, (byte) => byte.toString(16).padStart(2, "0")).join(""),
    publisherSha256: await publishing,
  };
  subscription.close();

  // Typed errors survive the trip.
  let notFound = { isServiceNotFound: false, isBeamhubError: false, code: "" };
  try {
    await hub.call("no.such.service");
  } catch (error) {
    notFound = {
      isServiceNotFound: error instanceof beamhub.ServiceNotFoundError,
      isBeamhubError: error instanceof beamhub.BeamhubError,
      code: (error as { code: string }).code,
    };
  }

  // Requests flow the other way too: the page registers a service that Node calls.
  await hub.register("browser.double", (n: number) => n * 2);
  const callback = await hub.call("relay", { name: "browser.double", data: 21 });

  // A refused token: browsers hide the 401, the client says so.
  let badToken = { name: "", code: "" };
  try {
    const refused = await connectBrowser(origin, { token: "wrong", timeout: 5000 });
    await refused.close();
  } catch (error) {
    badToken = { name: (error as Error).name, code: (error as { code: string }).code };
  }

  await hub.close();
  const closedWith = (await hub.connection.closed)?.message;
  return {
    transport: hub.transport,
    services,
    echo: { ...echo, bytes: Array.from(echo.bytes) },
    whoami,
    events,
    streamBytes,
    streamMatches,
    notFound,
    callback,
    badToken,
    closedWith,
    broadcast,
  };
}

(globalThis as { runScenario?: typeof runScenario }).runScenario = runScenario;

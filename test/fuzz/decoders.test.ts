// Fuzzing every decoder a peer's bytes reach — the five codecs, the kv message, record and
// change decoders, the frame decoder and the HELLO — with random bytes, hostile shapes and
// mutations of real traffic (recorded from a real session through a Unix socket). Each decode
// must end in a value or the decoder's own typed error; each property runs in a worker thread
// watched from here, so a decoder that hangs is reported with the input that hung it.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cborCodec, jsonCodec, kvCodec, msgpackCodec, type Codec } from "../../codecs/index.js";
import { encodeKvChange, encodeKvRecord, KvMessage } from "../../kv/index.js";
import { Hub } from "../../index.js";
import { listenUnix, type UnixListener } from "../../hub/remote/unix.js";
import { FrameType, HEADER_SIZE } from "../../wire/frame.js";
import { corpus, corpusProtobuf } from "../codecs/corpus.js";
import type { DecodeJob, DecodeResult, DecodeWork } from "./decode-worker.js";
import { HOSTILE_SHAPES } from "./hostile-shapes.js";
import { concat } from "./mutate.js";
import { fuzzParameters, timeLimit } from "./settings.js";
import { bodies, recordTraffic, type RecordedSession } from "./traffic.js";

/** How long a single decode may go without finishing before it counts as a hang. */
const HANG_MS = 10_000;

let dir: string;
let hub: Hub;
let listener: UnixListener;
let sessions: RecordedSession[];
let results: Map<string, Promise<DecodeResult>>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-fuzz-decoders-"));
  hub = new Hub();
  listener = await listenUnix(hub, join(dir, "hub.sock"));
  sessions = await recordTraffic(join(dir, "hub.sock"), join(dir, "proxy.sock"));
  results = fuzzInWorker(TARGETS);
});

afterAll(async () => {
  await listener?.close();
  await hub?.close();
  await rm(dir, { recursive: true, force: true });
});

/** The codec a recorded session used: the one its client's HELLO offered. */
function codecOf(session: RecordedSession): string {
  const hello = JSON.parse(new TextDecoder().decode(session.sentFrames[0]!.subarray(HEADER_SIZE))) as {
    codecs: string[];
  };
  return hello.codecs[0]!;
}

/** The messages real traffic carried, decoded, to re-encode in the codecs no session used. */
function realMessages(): unknown[] {
  return sessions
    .filter((session) => codecOf(session) === "cbor")
    .flatMap((session) => [...bodies(session.sentFrames), ...bodies(session.receivedFrames)])
    .map((body) => cborCodec.decode(body));
}

function encodings(codec: Codec, values: unknown[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const value of values) {
    try {
      out.push(codec.encode(value));
    } catch {
      // not every message fits every codec (kv is flat, protobuf has a schema)
    }
  }
  return out;
}

function codecSamples(codec: Codec): Uint8Array[] {
  const recorded = sessions
    .filter((session) => codecOf(session) === codec.name)
    .flatMap((session) => [...bodies(session.sentFrames), ...bodies(session.receivedFrames)]);
  const values: unknown[] = [];
  for (const testCase of corpus) {
    const outcome = testCase.codecs?.[codec.name];
    if (outcome === undefined) values.push(testCase.value);
    else if ("value" in outcome) values.push(outcome.input ?? testCase.value);
  }
  if (recorded.length === 0) values.push(...realMessages());
  return [...recorded, ...encodings(codec, values), ...(HOSTILE_SHAPES[codec.name] ?? [])];
}

function kvMessages(): Uint8Array[] {
  return codecSamples(kvCodec);
}

function samplesFor(target: string): Uint8Array[] {
  switch (target) {
    case "cbor":
      return codecSamples(cborCodec);
    case "json":
      return codecSamples(jsonCodec);
    case "msgpack":
      return codecSamples(msgpackCodec);
    case "kv":
    case "kv message":
      return kvMessages();
    case "protobuf":
      return codecSamples(corpusProtobuf);
    case "kv change":
      return [
        encodeKvChange({ op: "set", key: "name", values: ["a", new Uint8Array([0, 255])] }, 1),
        encodeKvChange({ op: "add", key: "name", values: ["b"] }, 2),
        encodeKvChange({ op: "delete", key: "name" }, 3),
        encodeKvChange({ op: "reset", state: KvMessage.fromObject({ a: ["1", "2"], b: "3" }) }, 4),
      ];
    case "kv records":
      return [
        concat(
          kvMessages()
            .slice(0, 8)
            .map((message) => encodeKvRecord(message)),
        ),
      ];
    case "frames":
      return sessions.flatMap((session) => [session.sent, session.received]);
    case "hello":
      return sessions.flatMap((session) =>
        [session.sentFrames[0]!, session.receivedFrames[0]!]
          .filter((frame) => frame[4] === FrameType.HELLO)
          .map((frame) => frame.subarray(HEADER_SIZE)),
      );
    default:
      throw new Error(`no samples for ${target}`);
  }
}

/**
 * Runs every target's property in one worker (one start-up for all); returns a promise per
 * target. If a decode stops making progress, the worker is terminated and every unfinished
 * target fails with the input that hung it.
 */
function fuzzInWorker(targets: readonly [string, number][]): Map<string, Promise<DecodeResult>> {
  const progress = new SharedArrayBuffer(8 + (1 << 20));
  const jobs: DecodeJob[] = targets.map(([target, shortRuns]) => {
    const { seed, numRuns } = fuzzParameters(`decode ${target}`, shortRuns);
    return { target, seed: seed!, numRuns: numRuns!, samples: samplesFor(target) };
  });
  const results = new Map<string, PromiseWithResolvers<DecodeResult>>();
  for (const [target] of targets) {
    const deferred = withResolvers<DecodeResult>();
    deferred.promise.catch(() => undefined); // each test awaits its own
    results.set(target, deferred);
  }
  const failAll = (error: Error): void => {
    for (const deferred of results.values()) deferred.reject(error);
  };
  const worker = new Worker(new URL("./decode-worker.mjs", import.meta.url), {
    workerData: { jobs, progress } satisfies DecodeWork,
  });
  const header = new Int32Array(progress, 0, 2);
  let lastSeen = -1;
  let stalled = 0;
  const watch = setInterval(() => {
    const seen = Atomics.load(header, 0);
    stalled = seen === lastSeen && seen > 0 ? stalled + 500 : 0;
    lastSeen = seen;
    if (stalled < HANG_MS) return;
    const input = Buffer.from(new Uint8Array(progress, 8, Atomics.load(header, 1))).toString("hex");
    failAll(new Error(`decode #${seen} did not finish within ${HANG_MS} ms; input (hex): ${input}`));
    void worker.terminate();
  }, 500);
  worker.on("message", (result: DecodeResult) => results.get(result.target)?.resolve(result));
  worker.once("error", failAll);
  worker.once("exit", (code) => {
    clearInterval(watch);
    failAll(new Error(`the decoder fuzz worker exited (${code}) before finishing`));
  });
  return new Map([...results].map(([target, deferred]) => [target, deferred.promise]));
}

interface PromiseWithResolvers<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: Error): void;
}

/** Promise.withResolvers, which Node 20 lacks. */
function withResolvers<T>(): PromiseWithResolvers<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((yes, no) => {
    resolve = yes;
    reject = no;
  });
  return { promise, resolve, reject };
}

const TARGETS: [string, number][] = [
  ["cbor", 300],
  ["json", 300],
  ["msgpack", 300],
  ["kv", 300],
  ["protobuf", 300],
  ["kv message", 300],
  ["kv change", 300],
  ["kv records", 300],
  ["frames", 300],
  ["hello", 200],
];

describe("decoders on random, hostile and mutated real input", () => {
  it("recorded real traffic to start from", () => {
    expect(sessions.map(codecOf)).toEqual(["cbor", "cbor", "json", "json"]);
    for (const session of sessions) expect(session.sentFrames.length).toBeGreaterThan(10);
  });

  it.each(TARGETS)(
    "%s: every input decodes or throws the decoder's typed error, and every decode finishes",
    async (target, shortRuns) => {
      const result = await results.get(target)!;
      expect(result.report).toBe("");
      expect(result.failed).toBe(false);
      // Every run was made (fast-check stops early only on a failure).
      expect(result.runs).toBe(fuzzParameters(`decode ${target}`, shortRuns).numRuns);
    },
    timeLimit(30_000),
  );
});

// Fuzzing `beamhub serve` over its Unix socket: sessions recorded from real traffic and mutated
// frame by frame and byte by byte, and hub operations with structured hostile arguments. Every
// input must end in an answer (PONG: the session lives on; or a GOAWAY with a code), every FAIL
// must carry a code, and after each batch the process is up, the bystander's call round-trips
// and stderr shows no internal error; at the end, fds and memory are back near the baseline.
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectUnix } from "../../hub/remote/unix.js";
import type { RemoteHub } from "../../hub/remote/remote-hub.js";
import { fuzzHostileOperations } from "./hostile-operations.js";
import { mutatedSession } from "./mutate.js";
import { judge, rawUnix, type Verdict } from "./raw-session.js";
import { fuzzParameters, timeLimit } from "./settings.js";
import { startFuzzTarget, type FuzzTarget } from "./target.js";
import { recordTraffic, type RecordedSession } from "./traffic.js";

let target: FuzzTarget;
let bystander: RemoteHub;
let sessions: RecordedSession[];

beforeAll(async () => {
  target = await startFuzzTarget();
  bystander = await connectUnix(target.socket);
  sessions = await recordTraffic(target.socket, join(target.socket, "..", "proxy.sock"));
  // Warm up what the fuzz will touch, then take the baseline.
  for (const session of sessions) await judge(await rawUnix(target.socket), session.sent);
  await target.takeBaseline();
});

afterAll(async () => {
  await bystander?.close();
  await target?.close();
});

describe("beamhub serve over a Unix socket under fuzz", () => {
  it(
    "answers mutated real sessions with PONG or a GOAWAY with a code, and keeps serving",
    async () => {
      const verdicts = new Map<Verdict, number>();
      let runs = 0;
      await fc.assert(
        fc.asyncProperty(
          mutatedSession(sessions.map((session) => session.sentFrames)),
          fc.array(fc.nat(), { maxLength: 3 }),
          async (input, cuts) => {
            const verdict = await judge(await rawUnix(target.socket), input, cuts);
            verdicts.set(verdict, (verdicts.get(verdict) ?? 0) + 1);
            if (++runs % 50 === 0) {
              target.checkHealthy();
              await target.roundTrip(bystander, `after ${runs} mutated sessions`);
            }
          },
        ),
        { ...fuzzParameters("unix mutated sessions", 200), endOnFailure: true },
      );
      target.checkHealthy();
      await target.roundTrip(bystander, "after the mutated sessions");
      // The mutations reached both sides of the line: sessions that survived and ones refused.
      expect(verdicts.get("alive") ?? 0).toBeGreaterThan(0);
      expect(verdicts.get("goaway") ?? 0).toBeGreaterThan(0);
    },
    timeLimit(40_000),
  );

  it(
    "refuses hub operations with hostile arguments with typed errors, and the session lives on",
    async () => {
      const { refused, answered } = await fuzzHostileOperations(
        "unix hostile operations",
        30,
        () => connectUnix(target.socket),
        async (what) => {
          target.checkHealthy();
          await target.roundTrip(bystander, what);
        },
      );
      expect(refused).toBeGreaterThan(0);
      expect(answered).toBeGreaterThan(0);
    },
    timeLimit(40_000),
  );

  it(
    "is still up with fds and memory back near the baseline and a clean stderr",
    async () => {
      await target.roundTrip(bystander, "at the end");
      const { fds, rss, baseline } = await target.checkBaseline();
      console.log(
        `unix fuzz: fds ${baseline.fds} -> ${fds}, RSS ${(baseline.rss / 2 ** 20).toFixed(0)} -> ${(rss / 2 ** 20).toFixed(0)} MiB`,
      );
      target.checkHealthy();
    },
    timeLimit(30_000),
  );
});

/**
 * A client process of bench/many-sessions*.ts: holds many Unix sessions to one hub, each calling
 * with one call in flight. Requests on its IPC channel, one at a time:
 * - `open {path, count}`: opens `count` sessions (50 connecting at a time);
 * - `run {service}`: every session calls `service` in a loop until `halt`;
 * - `mark`: starts the measured window (clears the count and the latency histogram);
 * - `take`: calls answered and their latency p50 / p99 (µs) since `mark`, and the sessions whose
 *   call failed (their lane stopped) since `run`;
 * - `halt`: stops the loops and waits for the calls in flight;
 * - `close`: closes every session.
 * @module
 */
import { createHistogram } from "node:perf_hooks";
import { connectUnix, type ConnectedHub } from "../../index.js";

type Request =
  | { op: "open"; path: string; count: number }
  | { op: "run"; service: string }
  | { op: "mark" }
  | { op: "take" }
  | { op: "halt" }
  | { op: "close" }
  | "stop";

/**
 * WHY so long: on this shared VM a process is sometimes not scheduled for seconds; with the 2 s
 * default a session was then declared dead in the middle of a round. The bench measures cost, not
 * liveness. BENCH_KEEP_ALIVE=<ms> sets it (on the hub too), e.g. 2000 to see the default under load.
 */
const KEEP_ALIVE_MS = Number(process.env.BENCH_KEEP_ALIVE ?? 30_000);
const payload = { user: "ada", action: "lookup", id: 42 };
let sessions: ConnectedHub[] = [];
let lanes: Promise<void>[] = [];
let running = false;
let calls = 0;
const latency = createHistogram();

let failed = 0;
let firstFailure: string | undefined;

/** One session calling until `halt`; a failed call ends its lane and is counted, not thrown. */
async function lane(session: ConnectedHub, service: string): Promise<void> {
  try {
    while (running) {
      const started = process.hrtime.bigint();
      await session.call(service, payload);
      latency.record(process.hrtime.bigint() - started || 1n);
      calls += 1;
    }
  } catch (error) {
    failed += 1;
    firstFailure ??= (error as Error).message;
  }
}

async function handle(request: Request): Promise<unknown> {
  if (request === "stop") {
    running = false;
    await Promise.allSettled(lanes);
    await Promise.allSettled(sessions.map((session) => session.close()));
    process.exit(0);
  }
  switch (request.op) {
    case "open": {
      for (let opened = 0; opened < request.count; opened += 50) {
        const batch = Math.min(50, request.count - opened);
        const connecting = Array.from({ length: batch }, () =>
          connectUnix(request.path, { reconnect: false, keepAlive: KEEP_ALIVE_MS }),
        );
        sessions.push(...(await Promise.all(connecting)));
      }
      return { sessions: sessions.length };
    }
    case "run":
      running = true;
      failed = 0;
      firstFailure = undefined;
      lanes = sessions.map((session) => lane(session, request.service));
      return {};
    case "mark":
      calls = 0;
      latency.reset();
      return {};
    case "take":
      return {
        calls,
        p50: latency.percentile(50) / 1000,
        p99: latency.percentile(99) / 1000,
        failed,
        firstFailure,
      };
    case "halt":
      running = false;
      await Promise.all(lanes);
      lanes = [];
      return {};
    case "close":
      await Promise.all(sessions.map((session) => session.close()));
      sessions = [];
      return {};
  }
}

process.on("message", (request: Request) => {
  handle(request).then(
    (answer) => process.send!({ answer }),
    (error: Error) => process.send!({ error: error.message }),
  );
});

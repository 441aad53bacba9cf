// The process under fuzz: a real `beamhub serve` (Unix socket and HTTPS), with a well-behaved
// bystander session beside the fuzzers, and the health checks every fuzz file makes: the process
// is up, the bystander is served, stderr shows no internal error, and once the fuzz sessions
// are closed its open fds and memory come back near where they started.
import { readdir, readFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "vitest";
import { connectUnix } from "../../hub/remote/unix.js";
import type { RemoteHub } from "../../hub/remote/remote-hub.js";
import { startServe, within, type RunningCli } from "../cli/helpers.js";

/** Lines `serve` prints only when something escaped (an unhandled rejection, a timer overflow). */
export const INTERNAL_ERROR = /internal error|Unhandled|TimeoutOverflowWarning|uncaught/i;

/** Open fds the hub may keep beyond its baseline once every fuzz session is closed. */
const FD_SLACK = 8;
/** Memory the hub may keep beyond its baseline (V8 grows its heap and keeps it for a while). */
const RSS_SLACK = 160 * 1024 * 1024;

export interface FuzzTarget {
  server: RunningCli & { httpsUrl: string };
  socket: string;
  ca: string;
  /** The directory with the hub's certificate and key (cert.pem, key.pem). */
  certDir: string;
  pid: number;
  /** The bystander's own service: nobody else registers this name. */
  bystanderService: string;
  /** Calls the bystander's service through `client` and checks the echo. */
  roundTrip(client: RemoteHub, what: string): Promise<void>;
  /** The process is up and has printed no internal error. */
  checkHealthy(): void;
  /** Records the baseline of fds and RSS (after a warm-up). */
  takeBaseline(): Promise<void>;
  /** Waits (bounded) for fds to come back near the baseline, then checks fds and RSS. */
  checkBaseline(
    settleMs?: number,
  ): Promise<{ fds: number; rss: number; baseline: { fds: number; rss: number } }>;
  close(): Promise<void>;
}

export async function startFuzzTarget(): Promise<FuzzTarget> {
  const dir = await mkdtemp(join(tmpdir(), "beamhub-fuzz-"));
  const socket = join(dir, "hub.sock");
  const server = await startServe(socket, join(dir, "cert"));
  const ca = await readFile(join(dir, "cert", "cert.pem"), "utf8");
  const pid = server.child.pid!;
  const service = await connectUnix(socket);
  const bystanderService = "bystander.echo";
  await service.register(bystanderService, (data: unknown) => data);
  let baseline: { fds: number; rss: number } | undefined;
  let rounds = 0;
  const target: FuzzTarget = {
    server,
    socket,
    ca,
    certDir: join(dir, "cert"),
    pid,
    bystanderService,
    async roundTrip(client, what) {
      const nonce = `round ${++rounds}`;
      const reply = await within(
        client.call(bystanderService, { nonce }),
        5000,
        `the bystander's call ${what}`,
      );
      expect(reply, `the bystander's call ${what}`).toEqual({ nonce });
    },
    checkHealthy() {
      expect(server.child.exitCode, `beamhub serve exited: ${server.stderr()}`).toBeNull();
      expect(server.child.signalCode).toBeNull();
      expect(server.stderr()).not.toMatch(INTERNAL_ERROR);
    },
    async takeBaseline() {
      baseline = { fds: await fdCount(pid), rss: await rss(pid) };
    },
    async checkBaseline(settleMs = 15_000) {
      if (baseline === undefined) throw new Error("takeBaseline first");
      const limit = baseline.fds + FD_SLACK;
      let fds = await fdCount(pid);
      for (let waited = 0; fds > limit && waited < settleMs; waited += 200) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        fds = await fdCount(pid);
      }
      const memory = await rss(pid);
      expect(fds, `open fds of the hub: ${fds} against ${baseline.fds} before`).toBeLessThanOrEqual(limit);
      expect(memory, `RSS of the hub: ${memory} against ${baseline.rss} before`).toBeLessThanOrEqual(
        baseline.rss + RSS_SLACK,
      );
      return { fds, rss: memory, baseline };
    },
    async close() {
      await service.close().catch(() => undefined);
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return target;
}

/** The number of open fds of process `pid`. */
export async function fdCount(pid: number): Promise<number> {
  return (await readdir(`/proc/${pid}/fd`)).length;
}

/** The resident set size of process `pid`, in bytes. */
export async function rss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kb = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
  if (kb === undefined) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(kb) * 1024;
}

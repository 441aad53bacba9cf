// The CLI's views of a running hub — sessions, ls --wide, info, call --time/--verbose, and top
// under a real pseudo-terminal (util-linux `script`) — as real processes against a hub serving a
// real Unix socket, with real traffic.
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectUnix, Hub, listenUnix, type RemoteHub, type UnixListener } from "../../index.js";
import { renderTop, topRows, type TopRow } from "../../cli/top-frame.js";
import { DashboardFeed } from "../../hub/dashboard/dashboard-snapshot.js";
import { channelPanel } from "../../internal.js";
import { beamhub, cliArgs, cliEnv, root, within } from "./helpers.js";

let dir: string;
let hub: Hub;
let listener: UnixListener;
let worker: RemoteHub;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-observe-cli-"));
  hub = new Hub();
  listener = await listenUnix(hub, join(dir, "hub.sock"));
  worker = await connectUnix(listener.path);
  await worker.register("echo", (x: unknown) => x, { labels: { lang: "ts" } });
  await worker.register("fail", () => {
    throw new Error("always");
  });
  for (let i = 0; i < 12; i++) await hub.call("echo", i);
  await hub.call("fail").catch(() => undefined);
});

afterAll(async () => {
  await worker?.close();
  await listener?.close();
  await hub?.close();
  await rm(dir, { recursive: true, force: true });
});

describe("beamhub sessions, ls --wide, info", () => {
  it("shows sessions with transport, identity and Unix credentials", async () => {
    const text = await beamhub(["sessions", "--socket", listener.path]);
    expect(text.code).toBe(0);
    const lines = text.stdout.trim().split("\n");
    expect(lines[0]).toMatch(
      /^SESSION\s+TRANSPORT\s+IDENTITY\s+PEER\s+AGE\s+SERVICES\s+CALLS\s+IN\s+OUT\s+STREAMS$/,
    );
    const workerLine = lines.find((line) => /\bunix\b/.test(line) && /\s2\s/.test(line));
    expect(workerLine).toBeDefined();
    expect(workerLine).toContain(`uid ${process.getuid!()}`);
    expect(lines.some((line) => /\blocal\b.*hub process/.test(line))).toBe(true);
    const json = await beamhub(["sessions", "--json", "--socket", listener.path]);
    const sessions = JSON.parse(json.stdout) as { transport: string; services: number }[];
    // Two unix sessions: the worker and this very command.
    expect(sessions.filter((s) => s.transport === "unix")).toHaveLength(2);
  }, 40_000);

  it("ls --wide and info show each instance's session, calls, errors and percentiles", async () => {
    const wide = await beamhub(["ls", "--wide", "--socket", listener.path]);
    expect(wide.code).toBe(0);
    const echoLine = wide.stdout.split("\n").find((line) => line.startsWith("echo "));
    expect(echoLine).toMatch(
      /^echo\s+i\d+\s+s\d+\s+unix\s+unix:\S+\s+uid \d+ pid \d+\s+lang=ts\s+12\s+0\s+\S+ms$/,
    );

    const info = await beamhub(["info", "fail", "--socket", listener.path]);
    expect(info.code).toBe(0);
    expect(info.stdout).toContain("fail: 1 instance, 1 calls, 1 errors");
    expect(info.stdout).toMatch(
      /INSTANCE\s+SESSION\s+TRANSPORT\s+IDENTITY\s+PEER\s+LABELS\s+AGE\s+CALLS\s+ERRORS\s+INFLIGHT\s+P50\s+P99/,
    );
    const json = JSON.parse(
      (await beamhub(["info", "echo", "--json", "--socket", listener.path])).stdout,
    ) as {
      calls: number;
      p50Ms: number;
      session: { transport: string };
    }[];
    expect(json).toMatchObject([{ calls: 12, session: { transport: "unix" } }]);
    expect(json[0]!.p50Ms).toBeGreaterThan(0);

    const missing = await beamhub(["info", "nobody", "--socket", listener.path]);
    expect(missing.code).toBe(4);
    expect(missing.stderr).toContain("no instance serves nobody");
  }, 60_000);

  it("call --time and --verbose tell how long and how, on stderr, leaving stdout the reply's", async () => {
    const result = await beamhub(["call", "echo", '"hi"', "--time", "--verbose", "--socket", listener.path]);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toBe("hi");
    expect(result.stderr).toMatch(
      /^connected to unix:\/\/\S+ \(from --socket\) via unix in [\d.]+ ms; identity: this process's uid; call timeout \d+ ms$/m,
    );
    expect(result.stderr).toMatch(/^time: connect [\d.]+ ms, call [\d.]+ ms, total [\d.]+ ms$/m);
  }, 40_000);
});

describe("beamhub top", () => {
  it("shows pub/sub channels by rate, with drops for slow subscribers, from two readings", async () => {
    const stalled = hub.subscribe("alerts", { history: false, ring: 2 });
    try {
      const first = channelPanel(await hub.channels(), undefined, 0);
      for (let i = 0; i < 10; i++) await hub.publish("alerts", i);
      await hub.publish("audit", "one");
      const second = channelPanel(await hub.channels(), first.readings, 2);
      expect(second.panel.channels[0]).toMatchObject({
        name: "alerts",
        subscribers: 1,
        messagesPerSecond: 5,
        laggedPerSecond: 4, // 10 published, 2 held in the ring, 8 dropped, over 2 s
        lagged: 8,
        history: 10,
        seq: 10,
      });
      const text = renderTop("unix:///x", hub.stats(), topRows(undefined, hub.stats(), 0), 40, second.panel);
      expect(text).toMatch(/\n\nCHANNEL\s+SUBS\s+MSG\/S\s+LAGGED\/S\s+LAGGED\s+HISTORY\s+BYTES\s+SEQ\n/);
      expect(text).toMatch(/^alerts\s+1\s+5\.0\s+4\.0\s+8\s+10\s+\d+ B\s+10$/m);
      // A small screen: a third of the rows for channels, and a line saying how many are left out.
      expect(renderTop("unix:///x", hub.stats(), [], 3, second.panel)).toMatch(/^… and \d+ more channels$/m);
      expect(renderTop("unix:///x", hub.stats(), [], 40, channelPanel([], undefined, 0).panel)).toContain(
        "no pub/sub channels",
      );
      // So with services: as many as fit, then how many more there are.
      const service = (name: string): TopRow => ({
        name,
        instances: 1,
        rate: 0,
        errorRate: 0,
        inFlight: 0,
        p99Ms: undefined,
        calls: 0,
      });
      const few = renderTop("unix:///x", hub.stats(), ["a", "b", "c"].map(service), 2);
      expect(few).toMatch(/^a\s+1\s+0\.0/m);
      expect(few).not.toMatch(/^c\s/m);
      expect(few).toMatch(/^… and 1 more$/m);
    } finally {
      stalled.close();
    }
  });

  it("computes rates and the interval's p99 from two readings", async () => {
    const before = hub.stats();
    for (let i = 0; i < 30; i++) await hub.call("echo", i);
    const rows = topRows(before, hub.stats(), 2);
    expect(rows[0]).toMatchObject({ name: "echo", rate: 15, errorRate: 0, instances: 1 });
    expect(rows[0]!.p99Ms).toBeGreaterThan(0);
    const text = renderTop("unix:///x", hub.stats(), rows);
    expect(text).toMatch(/^beamhub top — unix:\/\/\/x — .* — sessions: local 1, unix \d/);
    expect(text).toMatch(/^echo\s+1\s+15\.0\s+0\.0\s+0\s+\S+\s+\d+$/m);
  });

  it("computes the same rates and p99 as the dashboard from the same readings", async () => {
    const feed = new DashboardFeed();
    const before = hub.stats();
    feed.next(before, [], null, [], 1_000);
    for (let i = 0; i < 10; i++) await hub.call("echo", i);
    for (let i = 0; i < 4; i++) await hub.call("fail").catch(() => undefined);
    const after = hub.stats();
    const snapshot = feed.next(after, [], null, [], 3_000);
    const rows = topRows(before, after, 2);
    for (const name of ["echo", "fail"]) {
      const row = rows.find((r) => r.name === name)!;
      const service = snapshot.services.find((s) => s.name === name)!;
      expect([row.rate, row.errorRate, row.p99Ms]).toEqual([
        service.callsPerSecond,
        service.failedPerSecond,
        service.p99Ms,
      ]);
    }
    expect(rows.find((r) => r.name === "fail")).toMatchObject({ rate: 2, errorRate: 2 });
    // The first frame has no interval: no rate (the dashboard's first snapshot says 0 too), not
    // every call since the hub started as if it were one second's.
    expect(topRows(undefined, after, 0).find((r) => r.name === "echo")).toMatchObject({
      rate: 0,
      errorRate: 0,
    });
  });

  it("redraws live under a pseudo-terminal as traffic flows, and quits on q", async () => {
    const command = [process.execPath, ...cliArgs(), "top", "--socket", listener.path, "--interval", "300"]
      .map((word) => `'${word}'`)
      .join(" ");
    const child = spawn("script", ["-qfc", command, "/dev/null"], {
      cwd: root,
      env: { ...cliEnv(), TERM: "xterm", COLUMNS: "120", LINES: "30" },
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    try {
      // Pub/sub too: "ticker" has one subscriber that never reads, with a ring of 1 (it lags).
      const stalled = hub.subscribe("ticker", { history: false, ring: 1 });
      const traffic = setInterval(() => {
        void hub.call("echo", 1).catch(() => undefined);
        void hub.publish("ticker", Date.now()).catch(() => undefined);
      }, 5);
      try {
        // A frame where echo is called at a rate, and ticker published to and lagging, in the
        // same frame: the view moved with the traffic.
        await within(
          (async () => {
            const frameMoving = (): boolean => {
              const frame = output.slice(output.lastIndexOf("\x1b[2J"));
              return (
                /\n\s*echo\s+1\s+([1-9]\d*\.\d)/.test(frame) &&
                /\n\s*ticker\s+1\s+[1-9]\d*\.\d\s+[1-9]\d*\.\d\s+[1-9]\d*\s+\d+\s+\S+ \S+\s+\d+/.test(frame)
              );
            };
            while (!frameMoving()) await new Promise((r) => setTimeout(r, 50));
          })(),
          30_000,
          "top to show echo's call rate and ticker's message and lag rates",
        );
      } finally {
        clearInterval(traffic);
        stalled.close();
      }
      expect(output).toMatch(/CHANNEL\s+SUBS\s+MSG\/S\s+LAGGED\/S\s+LAGGED\s+HISTORY\s+BYTES\s+SEQ/);
      // Drawn in place: the screen is cleared for each frame, the cursor hidden.
      expect(output).toContain("\x1b[H\x1b[2J");
      expect(output).toContain("\x1b[?25l");
      expect(output).toContain("SERVICE");
      child.stdin.write("q");
      expect(await within(exited, 15_000, "top to quit on q")).toBe(0);
      expect(output).toContain("\x1b[?25h"); // the cursor is back
    } finally {
      child.kill("SIGKILL");
    }
  }, 60_000);

  it("prints frames one after another when not on a terminal, and stops after --count", async () => {
    const result = await beamhub(["top", "--count", "2", "--interval", "100", "--socket", listener.path]);
    expect(result.code).toBe(0);
    expect(result.stdout.match(/^beamhub top — /gm)).toHaveLength(2);
    expect(result.stdout).not.toContain("\x1b[");
    const bad = await beamhub(["top", "--interval", "0", "--socket", listener.path]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--interval takes a positive whole number");
  }, 40_000);
});

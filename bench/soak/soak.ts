// The soak run: a real `beamhub serve` under mixed traffic for a long time (default one hour),
// with peers coming, going, freezing and being killed. Every minute it samples the hub's RSS
// and open fds, and at the end prints the samples and the drift between the first sample after
// warm-up and the last. Not a test (it takes an hour); `npm run soak` runs it.
//
//   npm run soak                       SOAK_MINUTES=60 SOAK_SAMPLE_SECONDS=60 by default
//   SOAK_MINUTES=5 SOAK_SAMPLE_SECONDS=20 npm run soak
//
// Mix (bench/soak/peer.ts): echo calls, replies with 10 fds never taken, fds taken and untaken
// in requests, calls that time out before their reply, calls to a missing service carrying an
// fd, channels with events carrying fds, 256 KiB echoed over a byte stream. Chaos every 5-15 s:
// kill a service and start another, SIGSTOP a service or a caller for 2-8 s then SIGCONT, kill
// a caller and start another.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const MINUTES = Number(process.env.SOAK_MINUTES ?? 60);
const SAMPLE_MS = Number(process.env.SOAK_SAMPLE_SECONDS ?? 60) * 1000;
const SERVICES = 3;
const CALLERS = 3;
const root = join(import.meta.dirname, "../..");
const dir = mkdtempSync(join(tmpdir(), "beamhub-soak-"));
const socket = join(dir, "hub.sock");
const tsx = ["--import", "tsx"];

function rssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8").match(/VmRSS:\s+(\d+)/);
  return Number(line?.[1] ?? 0) / 1024;
}
const fdCount = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length;

function waitFor(child: ChildProcess, pattern: RegExp, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = "";
    const timer = setTimeout(() => reject(new Error(`${what} not ready in 20 s: ${seen}`)), 20_000);
    const check = (chunk: Buffer): void => {
      seen += chunk.toString();
      if (pattern.test(seen)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on("data", check);
    child.stderr?.on("data", check);
  });
}

const hub = spawn(
  process.execPath,
  [...tsx, "cli/main.ts", "serve", "--socket", socket, "--listen-https", "off"],
  {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
  },
);
let hubLog = "";
hub.stderr!.on("data", (chunk: Buffer) => void (hubLog += chunk.toString()));
await waitFor(hub, /press Ctrl-C/, "beamhub serve");
const hubPid = hub.pid!;

const totals: Record<string, number> = {};
const services = new Set<ChildProcess>();
const callers = new Map<ChildProcess, Record<string, number>>();

async function startService(): Promise<void> {
  const child = spawn(process.execPath, [...tsx, "bench/soak/peer.ts", "service", socket], { cwd: root });
  child.stderr!.resume();
  services.add(child);
  child.once("exit", () => services.delete(child));
  await waitFor(child, /ready/, "a service");
}

function startCaller(): void {
  const child = spawn(process.execPath, [...tsx, "bench/soak/peer.ts", "caller", socket], { cwd: root });
  child.stderr!.resume();
  let pending = "";
  child.stdout!.on("data", (chunk: Buffer) => {
    pending += chunk.toString();
    const lines = pending.split("\n");
    pending = lines.pop()!;
    const last = lines.at(-1);
    if (last !== undefined) callers.set(child, JSON.parse(last) as Record<string, number>);
  });
  callers.set(child, {});
  child.once("exit", () => {
    for (const [key, value] of Object.entries(callers.get(child) ?? {}))
      totals[key] = (totals[key] ?? 0) + value;
    callers.delete(child);
  });
}

function counts(): Record<string, number> {
  const sum = { ...totals };
  for (const current of callers.values())
    for (const [key, value] of Object.entries(current)) sum[key] = (sum[key] ?? 0) + value;
  return sum;
}

const pick = <T>(items: Iterable<T>): T | undefined => {
  const list = [...items];
  return list[Math.floor(Math.random() * list.length)];
};

for (let i = 0; i < SERVICES; i++) await startService();
for (let i = 0; i < CALLERS; i++) startCaller();

const chaos: string[] = [];
let stopping = false;
async function chaosLoop(): Promise<void> {
  while (!stopping) {
    await new Promise((resolve) => setTimeout(resolve, 5000 + Math.random() * 10_000));
    if (stopping) return;
    const action = Math.floor(Math.random() * 4);
    if (action === 0) {
      pick(services)?.kill("SIGKILL");
      await startService().catch(() => undefined);
      chaos.push("killed a service");
    } else if (action === 1 || action === 2) {
      const victim = action === 1 ? pick(services) : pick(callers.keys());
      if (victim === undefined) continue;
      victim.kill("SIGSTOP");
      await new Promise((resolve) => setTimeout(resolve, 2000 + Math.random() * 6000));
      victim.kill("SIGCONT");
      chaos.push(action === 1 ? "froze a service" : "froze a caller");
    } else {
      pick(callers.keys())?.kill("SIGKILL");
      startCaller();
      chaos.push("killed a caller");
    }
    // A peer that died of its session (exit code 3: a frozen peer the hub gave up on) is replaced.
    while (services.size < SERVICES) await startService().catch(() => undefined);
    while (callers.size < CALLERS) startCaller();
  }
}
const chaosDone = chaosLoop();

interface Sample {
  minute: number;
  rssMiB: number;
  fds: number;
  calls: number;
}
const samples: Sample[] = [];
const started = Date.now();
const end = started + MINUTES * 60_000;
console.log(`soak: ${MINUTES} min, hub pid ${hubPid}, sampling every ${SAMPLE_MS / 1000} s`);
while (Date.now() < end) {
  await new Promise((resolve) => setTimeout(resolve, Math.min(SAMPLE_MS, end - Date.now())));
  const sample = {
    minute: Math.round((Date.now() - started) / 6000) / 10,
    rssMiB: Math.round(rssMiB(hubPid)),
    fds: fdCount(hubPid),
    calls: counts().ok ?? 0,
  };
  samples.push(sample);
  console.log(`soak: ${JSON.stringify(sample)}`);
}
stopping = true;
await chaosDone;
for (const child of [...services, ...callers.keys()]) child.kill("SIGKILL");
await new Promise((resolve) => setTimeout(resolve, 3000));
const idleFds = fdCount(hubPid);
const idleRss = Math.round(rssMiB(hubPid));
hub.kill("SIGTERM");
rmSync(dir, { recursive: true, force: true });

// The first sample is warm-up (JIT, pools); drift is measured from the second.
const first = samples[Math.min(1, samples.length - 1)]!;
const last = samples.at(-1)!;
console.log("\nminute  RSS MiB  fds  calls");
for (const sample of samples)
  console.log(
    `${String(sample.minute).padStart(6)}  ${String(sample.rssMiB).padStart(7)}  ${String(sample.fds).padStart(3)}  ${sample.calls}`,
  );
console.log(`\noutcomes: ${JSON.stringify(counts())}`);
console.log(
  `chaos: ${chaos.length} actions (${[...new Set(chaos)].map((what) => `${what} x${chaos.filter((c) => c === what).length}`).join(", ")})`,
);
console.log(
  `RSS ${first.rssMiB} -> ${last.rssMiB} MiB; fds ${first.fds} -> ${last.fds}; with every peer gone: ${idleFds} fds, ${idleRss} MiB RSS`,
);
const internal = hubLog.match(/internal error.*$/m);
console.log(internal === null ? "hub log: no internal errors" : `hub log: ${internal[0]}`);

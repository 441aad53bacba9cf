// `beamhub serve` with its Unix socket opened to other users (--socket-mode 0666): another
// user's process (nobody, uid 65534; this test must run as root to start it) is identified by
// its kernel credentials and may do only what the access rules grant `unix:nobody` or its
// group, while this user and root may do everything; without rules it may do nothing. The
// per-uid connection cap refuses this user's extra connection with ELIMIT and a log line while
// the other user still gets in. Real processes and sockets, every wait bounded.
import { spawn } from "node:child_process";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { connectUnix, ProtocolError, type RemoteHub } from "../../index.js";
import { root, startCli, within, type RunningCli } from "./helpers.js";
import { nodeArgs } from "../helpers/programs.js";

const isRoot = process.getuid?.() === 0;
const NOBODY = 65534;

let dir: string;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-cli-unix-access-"));
  await chmod(dir, 0o755); // the other user must reach the socket
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function serve(name: string, args: string[]): Promise<RunningCli & { socket: string }> {
  const socket = join(dir, `${name}.sock`);
  const running = await startCli(
    ["serve", "--socket", socket, "--listen-https", "off", "--socket-mode", "0666", ...args],
    /press Ctrl-C/,
  );
  cleanups.push(() => running.stop());
  return { ...running, socket };
}

async function client(socket: string): Promise<RemoteHub> {
  const connected = await connectUnix(socket);
  cleanups.push(() => connected.close());
  return connected;
}

/** Registers echo services under `names` from a session of this user. */
async function echoServices(socket: string, names: string[]): Promise<RemoteHub> {
  const services = await client(socket);
  for (const name of names) await services.register(name, (data: unknown) => data);
  return services;
}

/** Runs test/unix/unix-peer.ts as nobody: one result line per call. */
async function asNobody(socket: string, calls: string[]): Promise<Record<string, unknown>[]> {
  const child = spawn(
    process.execPath,
    [...nodeArgs(join(root, "test/unix/unix-peer.ts")), socket, ...calls],
    { cwd: root, uid: NOBODY, gid: NOBODY, stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  let err = "";
  child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (err += chunk.toString()));
  const code = await within(
    new Promise<number | null>((resolve) => child.once("exit", resolve)),
    15_000,
    "the peer running as nobody",
  ).catch((error: unknown) => {
    child.kill("SIGKILL");
    throw error;
  });
  expect(code, err).toBe(0);
  return out
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

const forbidden = { error: expect.objectContaining({ code: "EFORBIDDEN" }) as unknown };

describe.skipIf(!isRoot)("serve with its socket open to other users", { timeout: 45_000 }, () => {
  it("lets another user do what the rules grant its user or group, and caps connections per uid", async () => {
    const config = join(dir, "access.json");
    await writeFile(
      config,
      JSON.stringify({
        access: [
          { who: "unix:nobody", call: ["public.*", "who"] },
          { who: "unix-group:nogroup", call: ["group.*"] },
        ],
      }),
    );
    const hub = await serve("rules", ["--config", config, "--max-unix-connections-per-uid", "2"]);
    expect(hub.stderr()).toMatch(
      /\(mode 0666: every local user; this user and root may do everything, other users what the 2 access rules grant; at most 1024 connections, 2 per uid\)/,
    );
    const services = await echoServices(hub.socket, ["public.echo", "private.echo", "group.echo"]);
    await services.register("who", (_data: unknown, context) => context.caller.identity ?? null);
    // This user's second connection is in; its third is over the per-uid cap.
    const mine = await client(hub.socket);
    const refused = await connectUnix(hub.socket).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ProtocolError);
    expect(refused).toMatchObject({ code: "ELIMIT" });
    await within(
      (async () => {
        while (!/refused a Unix connection from uid 0/.test(hub.stderr())) {
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      })(),
      5000,
      "serve to log the refusal",
    );
    expect(hub.stderr()).toMatch(
      /refused a Unix connection from uid 0 \(pid \d+\): that uid has 2 Unix connections open, the maximum per uid/,
    );

    // Another uid is counted apart, and gets exactly what the rules grant it.
    const results = await asNobody(hub.socket, [
      'public.echo="hi"',
      'private.echo="hi"',
      'group.echo="hi"',
      "hub.info",
      "who",
    ]);
    expect(results.slice(0, 4)).toEqual([{ reply: "hi" }, forbidden, { reply: "hi" }, forbidden]);
    expect(results[4]).toMatchObject({ reply: { id: "unix:nobody", via: "unix", uid: NOBODY, gid: NOBODY } });
    // This user may do everything.
    expect(await mine.call("private.echo", "mine")).toBe("mine");
    expect(await mine.call<{ pid: number }>("hub.info")).toMatchObject({ pid: hub.child.pid });
  });

  it("without access rules lets other users connect but do nothing, and says so", async () => {
    const hub = await serve("no-rules", []);
    expect(hub.stderr()).toMatch(
      /warning: the Unix socket is mode 0666: every local user may connect and, without access rules, do nothing/,
    );
    await echoServices(hub.socket, ["public.echo"]);
    expect(await asNobody(hub.socket, ['public.echo="hi"', "hub.info"])).toEqual([forbidden, forbidden]);
  });
});

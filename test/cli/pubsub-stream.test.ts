// `beamhub pub --stream` and `beamhub sub --stream` as a user runs them, all real processes
// (the prebuilt command) against a real `beamhub serve`: a file and then stdin are broadcast,
// one subscriber writes the first broadcast's bytes and exits (--once), another writes both with
// a delimiter (--count 2); what they print is checked byte for byte (SHA-256).
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectUnix } from "../../hub/remote/connect-unix.js";
import { beamhub, cliArgs, cliEnv, root, startCli, within, type RunningCli } from "./helpers.js";

let dir: string;
let socket: string;
let server: RunningCli;
const children: ChildProcessWithoutNullStreams[] = [];

beforeAll(async () => {
  dir = await mkdtemp("/tmp/beamhub-cli-pubsub-stream-");
  socket = join(dir, "hub.sock");
  server = await startCli(["serve", "--socket", socket, "--listen-https", "off"], /press Ctrl-C/);
}, 30_000);

afterAll(async () => {
  for (const child of children) child.kill("SIGKILL");
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** A `beamhub sub` whose stdout is kept as bytes, and its exit. */
function subscriber(args: string[]): {
  stdout: () => Buffer;
  stderr: () => string;
  exited: Promise<number | null>;
} {
  const child = spawn(process.execPath, [...cliArgs(), "sub", ...args, "--socket", socket], {
    cwd: root,
    env: cliEnv(),
  });
  children.push(child);
  const chunks: Buffer[] = [];
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => chunks.push(chunk));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { stdout: () => Buffer.concat(chunks), stderr: () => stderr, exited };
}

const sha256 = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex");

describe("beamhub pub --stream / sub --stream", () => {
  it(
    "broadcasts a file and stdin; subscribers write the bytes exactly, --once and --count with a delimiter",
    { timeout: 90_000 },
    async () => {
      const channel = "backups room"; // a channel name no service name could be
      const file = join(dir, "data.bin");
      const content = randomBytes(3 * 1024 * 1024 + 17); // several stream windows' worth
      await writeFile(file, content);

      const once = subscriber(["--stream", channel, "--once"]);
      const both = subscriber(["--stream", channel, "--count", "2", "--delimiter", "\n--8<--\n"]);
      // Both subscriptions must be live before the broadcast: a broadcast goes to those of its moment.
      const watcher = await connectUnix(socket, { reconnect: false });
      try {
        await expect
          .poll(async () => (await watcher.channels()).find((info) => info.name === channel)?.subscribers, {
            timeout: 20_000,
          })
          .toBe(2);
      } finally {
        await watcher.close();
      }

      const fromFile = await beamhub(["pub", "--stream", channel, file, "--socket", socket]);
      expect(fromFile.code, fromFile.stderr).toBe(0);
      expect(JSON.parse(fromFile.stdout)).toMatchObject({ seq: 1, bytes: content.length });
      expect(await within(once.exited, 30_000, "sub --once to exit"), once.stderr()).toBe(0);
      expect(sha256(once.stdout())).toBe(sha256(content));
      expect(once.stderr()).toMatch(/broadcast 1 from \S+ \{"name":"data\.bin","size":3145745\}/);

      const text = "a second broadcast, from stdin\n";
      const fromStdin = await beamhub(["pub", "--stream", channel, "--socket", socket], { input: text });
      expect(fromStdin.code, fromStdin.stderr).toBe(0);
      expect(JSON.parse(fromStdin.stdout)).toMatchObject({ seq: 2, bytes: text.length });
      expect(await within(both.exited, 30_000, "sub --count 2 to exit"), both.stderr()).toBe(0);
      const expected = Buffer.concat([
        content,
        Buffer.from("\n--8<--\n"),
        Buffer.from(text),
        Buffer.from("\n--8<--\n"),
      ]);
      expect(sha256(both.stdout())).toBe(sha256(expected));
      expect(both.stderr()).toMatch(/broadcast 2 from \S+ null/);
    },
  );

  it("refuses what makes no sense before connecting, with usage errors", async () => {
    const missing = await beamhub(["pub", "--stream", "x", join(dir, "nope.bin"), "--socket", socket]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read .*nope\.bin/);
    const json = await beamhub(["sub", "--stream", "x", "--json", "--socket", socket]);
    expect(json.code).toBe(2);
    expect(json.stderr).toMatch(/--json and --stream/);
    const badName = await beamhub(["sub", "x\ty", "--socket", socket]);
    expect(badName.code).toBe(2);
    expect(badName.stderr).toMatch(/printable ASCII/);
  });
});
